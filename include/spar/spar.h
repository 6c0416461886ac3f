/* spar.h — umbrella header for libspar, a sparse retrieval and indexing engine.
 * Include this, link with `pkg-config --libs spar`. */
#ifndef SPAR_H
#define SPAR_H
#include "spar_status.h"
#include "spar_version.h"
#include "spar_index.h"
#include "spar_query.h"
#include "spar_eval.h"
#include "spar_corpus.h"
#include "spar_encode.h"
#ifdef __cplusplus
extern "C" {
#endif
/** SPAR_VERSION_NUMBER of the linked library (may differ from the header's). */
SPAR_API unsigned spar_version_number(void);
SPAR_API const char *spar_version_string(void);
#ifdef __cplusplus
}
#endif
#endif
