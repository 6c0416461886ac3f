/* tools/commands.h — the spar CLI's subcommands. Each lives in tools/cmd_<name>.c and defines
 * `int spar_cmd_<name>(int argc, char **argv)` (argv[0] is the subcommand name). Exit codes are shared:
 * see spar_exit_code(). Commands not linked into this build are reported as unavailable. */
#ifndef SPAR_TOOLS_COMMANDS_H
#define SPAR_TOOLS_COMMANDS_H

#include "spar/spar.h"

#define SPAR_CMD(name) int spar_cmd_##name(int argc, char **argv) __attribute__((weak))
SPAR_CMD(index);
SPAR_CMD(search);
SPAR_CMD(eval);
SPAR_CMD(verify);
SPAR_CMD(encode);
SPAR_CMD(ann);
SPAR_CMD(info);
SPAR_CMD(ciff);
#undef SPAR_CMD

/* Exit codes: 0 ok, 1 generic failure, 2 usage error, 3 I/O, 4 corrupt/malformed input, 5 version,
 * 6 not found, 7 cancelled, 8 storage, 9 exists. */
static inline int spar_exit_code(spar_status st) {
    switch (st) {
    case SPAR_OK: return 0;
    case SPAR_E_INVALID_ARG: return 2;
    case SPAR_E_IO: return 3;
    case SPAR_E_CORRUPT: return 4;
    case SPAR_E_VERSION: return 5;
    case SPAR_E_NOT_FOUND: return 6;
    case SPAR_E_CANCELLED: return 7;
    case SPAR_E_STORAGE: return 8;
    case SPAR_E_EXISTS: return 9;
    default: return 1;
    }
}

#endif
