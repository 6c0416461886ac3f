/* safetensors.c — mmap + validating parser for Hugging Face .safetensors files.
 * Layout: u64 LE header length N | N bytes of JSON (object, may be space-padded) | data buffer.
 * Every entry's dtype, shape and data_offsets are checked, the sum numel*size must equal the byte
 * range, and the ranges must tile the data buffer with no hole and no overlap (docs/format/safetensors.md).
 * Contract: encoders/model/safetensors.h. */
#define _POSIX_C_SOURCE 200809L
#include "encoders/model/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"

struct spar_safetensors {
    void *map;            /* mmap base, NULL when parsing a borrowed buffer */
    size_t map_size;
    spar_st_tensor *tensors; /* sorted by name */
    size_t n_tensors;
    char *names;          /* all tensor names, NUL-separated */
    char **meta;          /* key, value, key, value ... */
    size_t n_meta;
};

static const struct {
    const char *name;
    size_t size;
} k_dtypes[SPAR_ST_N_DTYPES] = {
    {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
    {"U8", 1},  {"U16", 2}, {"U32", 4},  {"U64", 8}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

const char *spar_st_dtype_name(spar_st_dtype dt) { return (unsigned)dt < SPAR_ST_N_DTYPES ? k_dtypes[dt].name : "?"; }
size_t spar_st_dtype_size(spar_st_dtype dt) { return (unsigned)dt < SPAR_ST_N_DTYPES ? k_dtypes[dt].size : 0; }

/* A JSON number that is a non-negative integer exactly representable in a double (<= 2^53). */
static int json_u64(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double v = j->valuedouble;
    if (!(v >= 0.0) || v > 9007199254740992.0 || floor(v) != v) return 0;
    *out = (uint64_t)v;
    return 1;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const spar_st_tensor *)a)->name, ((const spar_st_tensor *)b)->name);
}
static int cmp_by_range(const void *a, const void *b) {
    const spar_st_tensor *x = *(const spar_st_tensor *const *)a, *y = *(const spar_st_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->n_bytes != y->n_bytes) return x->n_bytes < y->n_bytes ? -1 : 1;
    return 0;
}

/* Parse one tensor entry `e` (named e->string) into t; names are copied by the caller. */
static spar_status parse_entry(const cJSON *e, uint64_t data_size, const char *label, spar_st_tensor *t,
                               spar_diag *diag) {
    const char *nm = e->string;
    if (!cJSON_IsObject(e)) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tensor '%.80s' is not an object", label, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of))
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tensor '%.80s' needs string dtype, array shape and data_offsets",
                             label, nm);
    int found = 0;
    for (int i = 0; i < SPAR_ST_N_DTYPES; i++)
        if (strcmp(dt->valuestring, k_dtypes[i].name) == 0) { t->dtype = (spar_st_dtype)i; found = 1; }
    if (!found) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tensor '%.80s': unknown dtype '%.20s'", label, nm, dt->valuestring);
    int nd = cJSON_GetArraySize(sh);
    if (nd > SPAR_ST_MAX_DIMS)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tensor '%.80s': rank %d > %d", label, nm, nd, SPAR_ST_MAX_DIMS);
    t->n_dims = (uint32_t)nd;
    uint64_t numel = 1;
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, sh) {
        uint64_t v;
        if (!json_u64(d, &v)) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tensor '%.80s': bad shape[%d]", label, nm, i);
        t->shape[i++] = v;
        if (v != 0 && numel > UINT64_MAX / v)
            return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tensor '%.80s': element count overflows", label, nm);
        numel *= v;
    }
    t->numel = numel;
    uint64_t b, en;
    if (cJSON_GetArraySize(of) != 2 || !json_u64(cJSON_GetArrayItem(of, 0), &b) || !json_u64(cJSON_GetArrayItem(of, 1), &en))
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tensor '%.80s': data_offsets must be [begin, end]", label, nm);
    if (b > en || en > data_size)
        return spar_diag_err(diag, SPAR_E_CORRUPT,
                             "%s: tensor '%.80s': data_offsets [%llu, %llu] outside data buffer of %llu bytes", label, nm,
                             (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_size);
    size_t es = k_dtypes[t->dtype].size;
    if (numel > UINT64_MAX / es || numel * es != en - b)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tensor '%.80s': %llu bytes for %llu x %s elements", label, nm,
                             (unsigned long long)(en - b), (unsigned long long)numel, k_dtypes[t->dtype].name);
    t->offset = b;
    t->n_bytes = en - b;
    return SPAR_OK;
}

spar_status spar_safetensors_parse(const uint8_t *buf, size_t size, const char *label, spar_safetensors **out,
                                   spar_diag *diag) {
    spar_status st = SPAR_OK;
    cJSON *root = NULL;
    spar_st_tensor **order = NULL;
    spar_safetensors *f = NULL;
    if (out == NULL || (buf == NULL && size > 0)) return SPAR_E_INVALID_ARG;
    *out = NULL;
    if (label == NULL) label = "<memory>";
    if (size < 8) return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: %zu bytes, too short for the 8-byte header length", label, size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
    if (n < 2 || n > SPAR_ST_MAX_HEADER || n > size - 8)
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 0: header length %llu invalid for a %zu-byte file", label,
                             (unsigned long long)n, size);
    const char *js = (const char *)buf + 8;
    if (js[0] != '{') return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte 8: header must start with '{'", label);
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(js, (size_t)n, &end, 0);
    if (root == NULL || !cJSON_IsObject(root)) {
        const char *ep = cJSON_GetErrorPtr();
        size_t at = (ep != NULL && ep >= js && ep <= js + n) ? (size_t)(ep - js) + 8 : 8;
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: header is not a valid JSON object", label, at);
        goto done;
    }
    for (const char *p = end; p < js + n; p++)
        if (*p != ' ') {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: byte %zu: only spaces may follow the header JSON", label,
                               (size_t)(p - js) + 8);
            goto done;
        }
    uint64_t data_size = size - 8 - n;
    if ((f = calloc(1, sizeof *f)) == NULL) { st = SPAR_E_NOMEM; goto done; }
    size_t n_entries = 0, name_bytes = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: __metadata__ must be an object", label);
                goto done;
            }
            const cJSON *m;
            cJSON_ArrayForEach(m, e) if (!cJSON_IsString(m)) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: __metadata__['%.60s'] is not a string", label, m->string);
                goto done;
            }
            if (f->meta != NULL) {
                st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: duplicate __metadata__", label);
                goto done;
            }
            size_t nm = (size_t)cJSON_GetArraySize(e), k = 0;
            if ((f->meta = calloc(2 * nm + 1, sizeof(char *))) == NULL) { st = SPAR_E_NOMEM; goto done; }
            cJSON_ArrayForEach(m, e) {
                f->meta[k] = strdup(m->string);
                f->meta[k + 1] = strdup(m->valuestring);
                if (f->meta[k] == NULL || f->meta[k + 1] == NULL) { f->n_meta = nm; st = SPAR_E_NOMEM; goto done; }
                k += 2;
            }
            f->n_meta = nm;
            continue;
        }
        n_entries++;
        name_bytes += strlen(e->string) + 1;
    }
    f->tensors = calloc(n_entries ? n_entries : 1, sizeof *f->tensors);
    f->names = malloc(name_bytes ? name_bytes : 1);
    order = calloc(n_entries ? n_entries : 1, sizeof *order);
    if (f->tensors == NULL || f->names == NULL || order == NULL) { st = SPAR_E_NOMEM; goto done; }
    char *np = f->names;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) continue;
        spar_st_tensor *t = &f->tensors[f->n_tensors];
        SPAR_TRY_GOTO(st, parse_entry(e, data_size, label, t, diag), done);
        size_t l = strlen(e->string) + 1;
        memcpy(np, e->string, l);
        t->name = np;
        np += l;
        t->data = buf + 8 + n + t->offset;
        order[f->n_tensors] = t;
        f->n_tensors++;
    }
    /* Byte ranges must tile [0, data_size) exactly: no holes (polyglot files), no overlap (aliasing). */
    qsort(order, f->n_tensors, sizeof *order, cmp_by_range);
    uint64_t cursor = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        if (order[i]->offset != cursor) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tensor '%.80s' starts at data byte %llu, expected %llu (%s)",
                               label, order[i]->name, (unsigned long long)order[i]->offset,
                               (unsigned long long)cursor, order[i]->offset > cursor ? "hole" : "overlap");
            goto done;
        }
        cursor += order[i]->n_bytes;
    }
    if (cursor != data_size) {
        st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: tensors cover %llu of %llu data bytes (trailing bytes at file byte %llu)",
                           label, (unsigned long long)cursor, (unsigned long long)data_size,
                           (unsigned long long)(8 + n + cursor));
        goto done;
    }
    qsort(f->tensors, f->n_tensors, sizeof *f->tensors, cmp_by_name);
    for (size_t i = 1; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i - 1].name, f->tensors[i].name) == 0) {
            st = spar_diag_err(diag, SPAR_E_CORRUPT, "%s: duplicate tensor name '%.80s'", label, f->tensors[i].name);
            goto done;
        }
    *out = f;
    f = NULL;
done:
    free(order);
    cJSON_Delete(root);
    spar_safetensors_close(f);
    return st;
}

spar_status spar_safetensors_open(const char *path, spar_safetensors **out, spar_diag *diag) {
    if (path == NULL || out == NULL) return SPAR_E_INVALID_ARG;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return spar_diag_err(diag, errno == ENOENT ? SPAR_E_NOT_FOUND : SPAR_E_IO, "open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return spar_diag_err(diag, SPAR_E_IO, "stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return spar_diag_err(diag, SPAR_E_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return spar_diag_err(diag, SPAR_E_CORRUPT, "%s: %zu bytes, too short for the 8-byte header length", path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return spar_diag_err(diag, SPAR_E_IO, "mmap %s: %s", path, strerror(e));
    spar_status st = spar_safetensors_parse(map, size, path, out, diag);
    if (st != SPAR_OK) {
        munmap(map, size);
        return st;
    }
    (*out)->map = map;
    (*out)->map_size = size;
    return SPAR_OK;
}

void spar_safetensors_close(spar_safetensors *f) {
    if (f == NULL) return;
    if (f->meta != NULL)
        for (size_t i = 0; i < 2 * f->n_meta; i++) free(f->meta[i]);
    free(f->meta);
    free(f->tensors);
    free(f->names);
    if (f->map != NULL) munmap(f->map, f->map_size);
    free(f);
}

size_t spar_safetensors_count(const spar_safetensors *f) { return f->n_tensors; }
const spar_st_tensor *spar_safetensors_at(const spar_safetensors *f, size_t i) {
    return i < f->n_tensors ? &f->tensors[i] : NULL;
}

const spar_st_tensor *spar_safetensors_find(const spar_safetensors *f, const char *name) {
    size_t lo = 0, hi = f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[mid].name, name);
        if (c == 0) return &f->tensors[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

const char *spar_safetensors_meta(const spar_safetensors *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

float spar_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: value = man * 2^-24 */
            float v = (float)man * 5.9604644775390625e-8f;
            return sign ? -v : v;
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 112u) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float spar_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t spar_f32_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u); /* quiet NaN */
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

spar_status spar_st_to_f32(const spar_st_tensor *t, float *dst) {
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case SPAR_ST_F32:
        memcpy(dst, p, t->numel * 4); /* source may be unaligned; memcpy is the portable load */
        return SPAR_OK;
    case SPAR_ST_F16:
        for (uint64_t i = 0; i < t->numel; i++) dst[i] = spar_f16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return SPAR_OK;
    case SPAR_ST_BF16:
        for (uint64_t i = 0; i < t->numel; i++) dst[i] = spar_bf16_to_f32((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));
        return SPAR_OK;
    default:
        return SPAR_E_UNSUPPORTED;
    }
}
