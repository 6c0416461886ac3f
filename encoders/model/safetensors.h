/* safetensors.h — reader for Hugging Face .safetensors weight files (encoders/model, first stage of
 * model loading: file -> named tensors -> bert.c). The whole header is validated on open (size, JSON
 * shape, dtype, byte ranges that tile the data buffer exactly); see docs/format/safetensors.md.
 * Contract for encoders/model/bert.c, the fuzz target and tests. */
#ifndef SPAR_SAFETENSORS_H
#define SPAR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "spar/spar_status.h"

#define SPAR_ST_MAX_DIMS 8
#define SPAR_ST_MAX_HEADER (100u * 1024u * 1024u) /* bytes; same cap as the reference parser */

typedef enum spar_st_dtype {
    SPAR_ST_F32 = 0, SPAR_ST_F16, SPAR_ST_BF16, SPAR_ST_F64, SPAR_ST_I64, SPAR_ST_I32, SPAR_ST_I16,
    SPAR_ST_I8, SPAR_ST_U8, SPAR_ST_U16, SPAR_ST_U32, SPAR_ST_U64, SPAR_ST_BOOL, SPAR_ST_F8_E4M3,
    SPAR_ST_F8_E5M2, SPAR_ST_N_DTYPES
} spar_st_dtype;

typedef struct spar_st_tensor {
    const char *name;              /* NUL-terminated, owned by the file object */
    spar_st_dtype dtype;
    uint32_t n_dims;
    uint64_t shape[SPAR_ST_MAX_DIMS]; /* outermost first (row-major) */
    uint64_t numel;
    uint64_t offset;               /* bytes, relative to the data buffer */
    uint64_t n_bytes;
    const uint8_t *data;           /* points into the mapping; may be unaligned */
} spar_st_tensor;

typedef struct spar_safetensors spar_safetensors;

/** Map and validate `path`. Returns SPAR_OK, SPAR_E_IO, SPAR_E_CORRUPT or SPAR_E_NOMEM; diag names the
 *  file and the byte offset or tensor at fault. */
spar_status spar_safetensors_open(const char *path, spar_safetensors **out, spar_diag *diag);
/** Validate an in-memory image. Borrows `buf`: it must outlive the returned object. `label` names it in
 *  diagnostics. */
spar_status spar_safetensors_parse(const uint8_t *buf, size_t size, const char *label, spar_safetensors **out,
                                   spar_diag *diag);
void spar_safetensors_close(spar_safetensors *st); /* NULL is a no-op */

size_t spar_safetensors_count(const spar_safetensors *st);
const spar_st_tensor *spar_safetensors_at(const spar_safetensors *st, size_t i); /* sorted by name */
const spar_st_tensor *spar_safetensors_find(const spar_safetensors *st, const char *name); /* NULL if absent */
/** Value of `key` in __metadata__, or NULL. */
const char *spar_safetensors_meta(const spar_safetensors *st, const char *key);

const char *spar_st_dtype_name(spar_st_dtype dt);
size_t spar_st_dtype_size(spar_st_dtype dt);
/** Convert a F32/F16/BF16 tensor to fp32 into `dst` (numel floats). SPAR_E_UNSUPPORTED for other dtypes. */
spar_status spar_st_to_f32(const spar_st_tensor *t, float *dst);

/* Scalar conversions, exposed for tests. */
float spar_f16_to_f32(uint16_t h);
float spar_bf16_to_f32(uint16_t b);
uint16_t spar_f32_to_bf16(float f); /* round to nearest even; NaN stays NaN */

#endif
