/* trt_recorder.h: what the two halves of the recording TEST DOUBLE (trt_recorder.c: state, log, library,
 * builder, config, build, runtime; trt_recorder_layers.c: network, layers, parser) share. Not an API: the
 * library's API is native/tensorrt/cudann_trt.h, plus the three cudann_trt_recorder_* test entry points. */
#ifndef TRT_RECORDER_H
#define TRT_RECORDER_H

#include "cudann_trt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CUDANN_TRT_API const char *cudann_trt_recorder_log(void);
CUDANN_TRT_API void cudann_trt_recorder_reset(void);
CUDANN_TRT_API void cudann_trt_recorder_fail_call(int32_t n, const char *message);

enum kind { K_LOGGER = 1, K_BUILDER, K_CONFIG, K_NETWORK, K_TENSOR, K_PROFILE, K_PARSER, K_CACHE, K_MEMORY, K_RUNTIME, K_ENGINE, K_CONTEXT };
extern const char *const kind_names[];
extern const char kind_letters[];

#define MAX_IO 16
typedef struct rec_obj {
    int kind, id, alive;
    int32_t nb;                    /* tensor / io dims */
    int64_t d[CUDANN_TRT_MAX_DIMS];
    int dtype, io_mode;
    char name[96];
    cudann_trt_log_callback callback; /* logger */
    void *user;
    int min_severity;
    struct rec_obj *io[MAX_IO];    /* network: inputs and outputs in order; engine: its I/O entries */
    int nio;
    char *data;                    /* host memory */
    size_t size;
} rec_obj;

/* One log line (printf format; the caller ends it with a newline). */
void append(const char *fmt, ...);
/* Sets the last error to "fn: message", logs "name FAILED message" and returns status. */
cudann_trt_status error(cudann_trt_status status, const char *fn, const char *fmt, ...);
/* Counts the call; true (with *status set) when an injected failure fires on it. */
int injected(const char *fn, cudann_trt_status *status);
rec_obj *make(int kind);
rec_obj *new_tensor(int32_t nb, const int64_t *d);
cudann_trt_status create(int kind, const char *fn, void **out, const char *extra);
cudann_trt_status destroy(void *handle, int kind, const char *fn);
/* "[1x3x32x32]" and "T7[1x3x32x32]", from rotating static buffers (four may be live in one call). */
const char *dims_text(int32_t nb, const int64_t *d);
const char *tensor_text(const rec_obj *t);
unsigned fnv1a(const void *data, size_t bytes);
size_t dtype_size(int dtype);
const char *name_or_null(const char *name);

#define BEGIN                                                                                                        \
    cudann_trt_status injected_status;                                                                               \
    if (injected(__func__, &injected_status)) return injected_status
#define REQUIRE(c, ...)                                                                                              \
    do {                                                                                                             \
        if (!(c)) return error(CUDANN_TRT_STATUS_INVALID_ARGUMENT, __func__, __VA_ARGS__);                          \
    } while (0)
#define GET(var, handle, k)                                                                                          \
    rec_obj *var = (rec_obj *)(void *)(handle);                                                                      \
    REQUIRE(var != NULL && var->kind == k && var->alive, "%s is not a live %s", #handle, kind_names[k])

#endif
