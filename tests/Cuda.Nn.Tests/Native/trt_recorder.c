/* trt_recorder.c: a TEST DOUBLE for the absent vendor library. It implements native/tensorrt/cudann_trt.h without
 * TensorRT: every call appends one line to a log (function, handles, names, dims, weight counts with an FNV-1a
 * checksum of the weight bytes, flags), hands out fake handles, and computes output dims for the layer kinds where
 * that is simple, so callers can query them. No engine is built: "build" serialises the network's I/O list, which
 * "deserialize" reads back. The tests (Cuda.Nn.Tests/TensorRt) compile it into a shared library with the system C
 * compiler and load it through CUDANN_TRT_PATH.
 *
 * Test-only entry points (not in cudann_trt.h): cudann_trt_recorder_log / _reset / _fail_call. An injected failure
 * (fail_call(n, message); a function, not an environment variable, because .NET does not pass its environment
 * changes to the C library and setenv in a multithreaded test process is unsafe) makes the n-th call from then fail with
 * CUDANN_TRT_STATUS_TENSORRT_FAILED and that message, and reports it to the newest live logger at ERROR severity,
 * as TensorRT reports its errors. Not thread-safe: the tests that use it run one at a time. */
#include "trt_recorder.h"

const char *const kind_names[] = {"", "logger", "builder", "config", "network", "tensor", "profile",
                                         "parser", "timing cache", "host memory", "runtime", "engine", "context"};
const char kind_letters[] = " LBCNTPOKMREX";

static rec_obj **objects;
static int nobjects, capobjects, next_id = 1;
static char *log_text;
static size_t log_len, log_cap;
static long calls, fail_at;
static char fail_message[256];
static char last_error[512];
static int initialised;

void append(const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(log_text ? log_text + log_len : NULL, log_text ? log_cap - log_len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (log_text && log_len + (size_t)n < log_cap) { log_len += (size_t)n; return; }
        size_t cap = (log_cap + (size_t)n + 1) * 2;
        char *p = realloc(log_text, cap);
        if (!p) abort();
        log_text = p;
        log_cap = cap;
        log_text[log_len] = 0;
    }
}

static void reset_all(void) {
    for (int i = 0; i < nobjects; i++) { free(objects[i]->data); free(objects[i]); }
    free(objects);
    objects = NULL;
    nobjects = capobjects = 0;
    next_id = 1;
    log_len = 0;
    if (log_text) log_text[0] = 0;
    calls = 0;
    fail_at = 0;
    last_error[0] = 0;
    initialised = 1;
}

const char *cudann_trt_recorder_log(void) { return log_text ? log_text : ""; }
void cudann_trt_recorder_reset(void) { reset_all(); }
void cudann_trt_recorder_fail_call(int32_t n, const char *message) {
    if (!initialised) reset_all();
    fail_at = n > 0 ? calls + n : 0;
    snprintf(fail_message, sizeof fail_message, "%s", message ? message : "injected failure");
}

rec_obj *make(int kind) {
    rec_obj *o = calloc(1, sizeof *o);
    if (!o) abort();
    o->kind = kind;
    o->id = next_id++;
    o->alive = 1;
    if (nobjects == capobjects) {
        capobjects = capobjects ? capobjects * 2 : 64;
        objects = realloc(objects, (size_t)capobjects * sizeof *objects);
        if (!objects) abort();
    }
    objects[nobjects++] = o;
    return o;
}

cudann_trt_status error(cudann_trt_status status, const char *fn, const char *fmt, ...) {
    char message[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    snprintf(last_error, sizeof last_error, "%s: %s", fn, message);
    append("%s FAILED %s\n", fn + 11, message);
    return status;
}

/* Every entry point starts here: counts the call and fires an injected failure. */
int injected(const char *fn, cudann_trt_status *status) {
    if (!initialised) reset_all();
    if (++calls != fail_at) return 0;
    fail_at = 0;
    for (int i = nobjects - 1; i >= 0; i--)
        if (objects[i]->kind == K_LOGGER && objects[i]->alive && objects[i]->callback &&
            objects[i]->min_severity >= CUDANN_TRT_SEVERITY_ERROR) {
            objects[i]->callback(objects[i]->user, CUDANN_TRT_SEVERITY_ERROR, fail_message);
            break;
        }
    *status = error(CUDANN_TRT_STATUS_TENSORRT_FAILED, fn, "%s", fail_message);
    return 1;
}

const char *dims_text(int32_t nb, const int64_t *d) {
    static char buf[4][160];
    static int which;
    char *b = buf[which++ & 3];
    size_t n = 0;
    b[n++] = '[';
    for (int32_t i = 0; i < nb && n < 140; i++) n += (size_t)snprintf(b + n, 160 - n, i ? "x%lld" : "%lld", (long long)d[i]);
    snprintf(b + n, 160 - n, "]");
    return b;
}

const char *tensor_text(const rec_obj *t) {
    static char buf[4][200];
    static int which;
    char *b = buf[which++ & 3];
    snprintf(b, 200, "T%d%s", t->id, dims_text(t->nb, t->d));
    return b;
}

unsigned fnv1a(const void *data, size_t bytes) {
    const unsigned char *p = data;
    unsigned h = 2166136261u;
    for (size_t i = 0; i < bytes; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

size_t dtype_size(int dtype) {
    switch (dtype) {
    case CUDANN_TRT_DTYPE_FLOAT: case CUDANN_TRT_DTYPE_INT32: return 4;
    case CUDANN_TRT_DTYPE_HALF: case CUDANN_TRT_DTYPE_BF16: return 2;
    case CUDANN_TRT_DTYPE_INT64: return 8;
    case CUDANN_TRT_DTYPE_INT8: case CUDANN_TRT_DTYPE_BOOL: case CUDANN_TRT_DTYPE_UINT8: return 1;
    default: return 0;
    }
}

const char *name_or_null(const char *name) { return name ? name : "(null)"; }

rec_obj *new_tensor(int32_t nb, const int64_t *d) {
    rec_obj *t = make(K_TENSOR);
    t->nb = nb;
    for (int32_t i = 0; i < nb; i++) t->d[i] = d[i];
    t->dtype = CUDANN_TRT_DTYPE_FLOAT;
    return t;
}

cudann_trt_status destroy(void *handle, int kind, const char *fn) {
    rec_obj *o = handle;
    if (o == NULL) { append("%s (null)\n", fn + 11); return CUDANN_TRT_STATUS_OK; }
    REQUIRE(o->kind == kind, "the handle is a %s, not a %s", kind_names[o->kind], kind_names[kind]);
    REQUIRE(o->alive, "%c%d was destroyed already", kind_letters[kind], o->id);
    o->alive = 0;
    append("%s %c%d\n", fn + 11, kind_letters[kind], o->id);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status create(int kind, const char *fn, void **out, const char *extra) {
    rec_obj *o = make(kind);
    *out = o;
    append("%s%s -> %c%d\n", fn + 11, extra, kind_letters[kind], o->id);
    return CUDANN_TRT_STATUS_OK;
}

/* ---- library and logger ---- */

const char *cudann_trt_last_error(void) { return last_error; }

cudann_trt_status cudann_trt_api_version(int32_t *version) {
    BEGIN;
    REQUIRE(version, "version is NULL");
    *version = CUDANN_TRT_API_VERSION;
    append("api_version -> %d\n", CUDANN_TRT_API_VERSION);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_tensorrt_version(int32_t *major, int32_t *minor, int32_t *patch) {
    BEGIN;
    REQUIRE(major && minor && patch, "an output pointer is NULL");
    *major = 0; *minor = 0; *patch = 0; /* no TensorRT: the recorder says 0.0.0 */
    append("tensorrt_version -> 0.0.0\n");
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_logger_create(cudann_trt_log_callback callback, void *user, cudann_trt_severity min_severity,
                                           cudann_trt_logger *logger) {
    BEGIN;
    REQUIRE(logger, "logger is NULL");
    REQUIRE(min_severity >= 0 && min_severity <= CUDANN_TRT_SEVERITY_VERBOSE, "min_severity %d is not a cudann_trt_severity", (int)min_severity);
    rec_obj *o = make(K_LOGGER);
    o->callback = callback;
    o->user = user;
    o->min_severity = min_severity;
    *logger = (cudann_trt_logger)(void *)o;
    append("logger_create callback=%s min_severity=%d -> L%d\n", callback ? "set" : "none", (int)min_severity, o->id);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_logger_destroy(cudann_trt_logger l) { BEGIN; return destroy(l, K_LOGGER, __func__); }

/* ---- builder, config, profiles, timing cache ---- */

cudann_trt_status cudann_trt_builder_create(cudann_trt_logger logger, cudann_trt_builder *builder) {
    BEGIN;
    GET(l, logger, K_LOGGER);
    REQUIRE(builder, "builder is NULL");
    char extra[32];
    snprintf(extra, sizeof extra, " logger=L%d", l->id);
    return create(K_BUILDER, __func__, (void **)builder, extra);
}
cudann_trt_status cudann_trt_builder_destroy(cudann_trt_builder b) { BEGIN; return destroy(b, K_BUILDER, __func__); }

cudann_trt_status cudann_trt_config_create(cudann_trt_builder builder, cudann_trt_config *config) {
    BEGIN;
    GET(b, builder, K_BUILDER);
    REQUIRE(config, "config is NULL");
    char extra[32];
    snprintf(extra, sizeof extra, " builder=B%d", b->id);
    return create(K_CONFIG, __func__, (void **)config, extra);
}
cudann_trt_status cudann_trt_config_destroy(cudann_trt_config c) { BEGIN; return destroy(c, K_CONFIG, __func__); }

cudann_trt_status cudann_trt_config_set_flags(cudann_trt_config config, uint32_t flags) {
    BEGIN;
    GET(c, config, K_CONFIG);
    REQUIRE((flags & ~7u) == 0, "flags 0x%x has bits that are not cudann_trt_builder_flag values", flags);
    append("config_set_flags C%d flags=%s%s%s%s\n", c->id, flags & CUDANN_TRT_BUILDER_FLAG_FP16 ? "FP16," : "",
           flags & CUDANN_TRT_BUILDER_FLAG_INT8 ? "INT8," : "", flags & CUDANN_TRT_BUILDER_FLAG_BF16 ? "BF16," : "",
           flags ? "" : "none");
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_config_set_workspace(cudann_trt_config config, size_t bytes) {
    BEGIN;
    GET(c, config, K_CONFIG);
    append("config_set_workspace C%d bytes=%zu\n", c->id, bytes);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_profile_create(cudann_trt_builder builder, cudann_trt_profile *profile) {
    BEGIN;
    GET(b, builder, K_BUILDER);
    REQUIRE(profile, "profile is NULL");
    char extra[32];
    snprintf(extra, sizeof extra, " builder=B%d", b->id);
    return create(K_PROFILE, __func__, (void **)profile, extra);
}

cudann_trt_status cudann_trt_profile_set_dims(cudann_trt_profile profile, const char *input_name, const int64_t *min_dims,
                                              const int64_t *opt_dims, const int64_t *max_dims, int32_t nb_dims) {
    BEGIN;
    GET(p, profile, K_PROFILE);
    REQUIRE(input_name && min_dims && opt_dims && max_dims, "input_name or dims is NULL");
    REQUIRE(nb_dims > 0 && nb_dims <= CUDANN_TRT_MAX_DIMS, "nb_dims %d is outside 1..%d", nb_dims, CUDANN_TRT_MAX_DIMS);
    for (int32_t i = 0; i < nb_dims; i++)
        REQUIRE(min_dims[i] >= 0 && min_dims[i] <= opt_dims[i] && opt_dims[i] <= max_dims[i], "axis %d: min <= opt <= max does not hold", i);
    append("profile_set_dims P%d input=%s min=%s opt=%s max=%s\n", p->id, input_name, dims_text(nb_dims, min_dims),
           dims_text(nb_dims, opt_dims), dims_text(nb_dims, max_dims));
    p->nio++; /* counts the inputs set */
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_config_add_profile(cudann_trt_config config, cudann_trt_profile profile, int32_t *index) {
    BEGIN;
    GET(c, config, K_CONFIG);
    GET(p, profile, K_PROFILE);
    REQUIRE(index, "index is NULL");
    REQUIRE(p->nio > 0, "profile P%d has no dimensions set", p->id);
    *index = c->nio++;
    append("config_add_profile C%d P%d -> %d\n", c->id, p->id, *index);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_timing_cache_create(cudann_trt_config config, const void *data, size_t size,
                                                 cudann_trt_timing_cache *cache) {
    BEGIN;
    GET(c, config, K_CONFIG);
    REQUIRE(cache && (data || size == 0), "cache is NULL, or data is NULL with a size");
    char extra[80];
    snprintf(extra, sizeof extra, " C%d bytes=%zu fnv=%08x", c->id, size, data ? fnv1a(data, size) : fnv1a("", 0));
    cudann_trt_status s = create(K_CACHE, __func__, (void **)cache, extra);
    rec_obj *t = (rec_obj *)(void *)*cache;
    t->data = malloc(size + 1);
    if (size) memcpy(t->data, data, size);
    t->size = size;
    return s;
}
cudann_trt_status cudann_trt_timing_cache_destroy(cudann_trt_timing_cache c) { BEGIN; return destroy(c, K_CACHE, __func__); }

cudann_trt_status cudann_trt_config_set_timing_cache(cudann_trt_config config, cudann_trt_timing_cache cache, int32_t ignore_mismatch) {
    BEGIN;
    GET(c, config, K_CONFIG);
    GET(t, cache, K_CACHE);
    append("config_set_timing_cache C%d K%d ignore_mismatch=%d\n", c->id, t->id, ignore_mismatch);
    return CUDANN_TRT_STATUS_OK;
}

static cudann_trt_status host_memory(const char *fn, const char *bytes, size_t size, cudann_trt_host_memory *memory, const char *extra) {
    rec_obj *m = make(K_MEMORY);
    m->data = malloc(size + 1);
    if (!m->data) abort();
    memcpy(m->data, bytes, size);
    m->size = size;
    *memory = (cudann_trt_host_memory)(void *)m;
    append("%s%s -> M%d bytes=%zu\n", fn + 11, extra, m->id, size);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_timing_cache_serialize(cudann_trt_timing_cache cache, cudann_trt_host_memory *memory) {
    BEGIN;
    GET(t, cache, K_CACHE);
    REQUIRE(memory, "memory is NULL");
    char extra[32];
    snprintf(extra, sizeof extra, " K%d", t->id);
    return host_memory(__func__, t->data ? t->data : "", t->size, memory, extra);
}

cudann_trt_status cudann_trt_host_memory_data(cudann_trt_host_memory memory, const void **data, size_t *size) {
    BEGIN;
    GET(m, memory, K_MEMORY);
    REQUIRE(data && size, "data or size is NULL");
    *data = m->data;
    *size = m->size;
    append("host_memory_data M%d -> bytes=%zu\n", m->id, m->size);
    return CUDANN_TRT_STATUS_OK;
}
cudann_trt_status cudann_trt_host_memory_destroy(cudann_trt_host_memory m) { BEGIN; return destroy(m, K_MEMORY, __func__); }

/* ---- build: the "plan" is the network's I/O list as text ---- */

cudann_trt_status cudann_trt_builder_build_serialized(cudann_trt_builder builder, cudann_trt_network network,
                                                      cudann_trt_config config, cudann_trt_host_memory *memory) {
    BEGIN;
    GET(b, builder, K_BUILDER);
    GET(n, network, K_NETWORK);
    GET(c, config, K_CONFIG);
    REQUIRE(memory, "memory is NULL");
    int outputs = 0;
    for (int i = 0; i < n->nio; i++) outputs += n->io[i]->io_mode == CUDANN_TRT_IO_MODE_OUTPUT;
    REQUIRE(outputs > 0, "network N%d has no outputs", n->id);
    char plan[4096];
    size_t k = (size_t)snprintf(plan, sizeof plan, "cudann-trt-recorder-plan\n");
    for (int i = 0; i < n->nio && k < sizeof plan; i++) {
        rec_obj *t = n->io[i];
        k += (size_t)snprintf(plan + k, sizeof plan - k, "%s %d %d %d", t->name, t->io_mode, t->dtype, t->nb);
        for (int32_t j = 0; j < t->nb && k < sizeof plan; j++) k += (size_t)snprintf(plan + k, sizeof plan - k, " %lld", (long long)t->d[j]);
        if (k < sizeof plan) plan[k++] = '\n';
    }
    REQUIRE(k < sizeof plan, "the I/O list does not fit the recorder's plan");
    char extra[64];
    snprintf(extra, sizeof extra, " B%d N%d C%d", b->id, n->id, c->id);
    return host_memory(__func__, plan, k, memory, extra);
}

/* ---- runtime, engine, context ---- */

cudann_trt_status cudann_trt_runtime_create(cudann_trt_logger logger, cudann_trt_runtime *runtime) {
    BEGIN;
    GET(l, logger, K_LOGGER);
    REQUIRE(runtime, "runtime is NULL");
    char extra[32];
    snprintf(extra, sizeof extra, " logger=L%d", l->id);
    return create(K_RUNTIME, __func__, (void **)runtime, extra);
}
cudann_trt_status cudann_trt_runtime_destroy(cudann_trt_runtime r) { BEGIN; return destroy(r, K_RUNTIME, __func__); }

cudann_trt_status cudann_trt_runtime_deserialize(cudann_trt_runtime runtime, const void *data, size_t size, cudann_trt_engine *engine) {
    BEGIN;
    GET(r, runtime, K_RUNTIME);
    REQUIRE(data && size > 0 && engine, "data or engine is NULL, or size is 0");
    static const char magic[] = "cudann-trt-recorder-plan\n";
    if (size < sizeof magic - 1 || memcmp(data, magic, sizeof magic - 1) != 0)
        return error(CUDANN_TRT_STATUS_TENSORRT_FAILED, __func__, "deserializeCudaEngine failed: not a plan the recorder wrote (%zu bytes)", size);
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = 0;
    rec_obj *e = make(K_ENGINE);
    for (char *line = strtok(text + sizeof magic - 1, "\n"); line && e->nio < MAX_IO; line = strtok(NULL, "\n")) {
        rec_obj *t = make(K_TENSOR);
        int used = 0;
        if (sscanf(line, "%95s %d %d %d%n", t->name, &t->io_mode, &t->dtype, &t->nb, &used) != 4) continue;
        char *rest = line + used;
        for (int32_t j = 0; j < t->nb; j++) t->d[j] = strtoll(rest, &rest, 10);
        e->io[e->nio++] = t;
    }
    free(text);
    *engine = (cudann_trt_engine)(void *)e;
    append("runtime_deserialize R%d bytes=%zu fnv=%08x -> E%d io=%d\n", r->id, size, fnv1a(data, size), e->id, e->nio);
    return CUDANN_TRT_STATUS_OK;
}
cudann_trt_status cudann_trt_engine_destroy(cudann_trt_engine e) { BEGIN; return destroy(e, K_ENGINE, __func__); }

static rec_obj *engine_io(rec_obj *e, const char *name) {
    for (int i = 0; i < e->nio; i++)
        if (strcmp(e->io[i]->name, name) == 0) return e->io[i];
    return NULL;
}

cudann_trt_status cudann_trt_engine_io_count(cudann_trt_engine engine, int32_t *count) {
    BEGIN;
    GET(e, engine, K_ENGINE);
    REQUIRE(count, "count is NULL");
    *count = e->nio;
    append("engine_io_count E%d -> %d\n", e->id, e->nio);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_engine_io_name(cudann_trt_engine engine, int32_t index, const char **name) {
    BEGIN;
    GET(e, engine, K_ENGINE);
    REQUIRE(name, "name is NULL");
    REQUIRE(index >= 0 && index < e->nio, "index %d is not an I/O tensor (the engine has %d)", index, e->nio);
    *name = e->io[index]->name;
    append("engine_io_name E%d %d -> %s\n", e->id, index, *name);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_engine_io_mode(cudann_trt_engine engine, const char *name, cudann_trt_io_mode *mode) {
    BEGIN;
    GET(e, engine, K_ENGINE);
    REQUIRE(name && mode, "name or mode is NULL");
    rec_obj *t = engine_io(e, name);
    *mode = t ? (cudann_trt_io_mode)t->io_mode : CUDANN_TRT_IO_MODE_NONE;
    append("engine_io_mode E%d %s -> %d\n", e->id, name, (int)*mode);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_engine_io_dtype(cudann_trt_engine engine, const char *name, cudann_trt_dtype *dtype) {
    BEGIN;
    GET(e, engine, K_ENGINE);
    REQUIRE(name && dtype, "name or dtype is NULL");
    rec_obj *t = engine_io(e, name);
    REQUIRE(t, "%s is not an I/O tensor of E%d", name, e->id);
    *dtype = (cudann_trt_dtype)t->dtype;
    append("engine_io_dtype E%d %s -> %d\n", e->id, name, t->dtype);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_engine_io_dims(cudann_trt_engine engine, const char *name, int64_t *dims, int32_t *nb_dims) {
    BEGIN;
    GET(e, engine, K_ENGINE);
    REQUIRE(name && dims && nb_dims, "name, dims or nb_dims is NULL");
    rec_obj *t = engine_io(e, name);
    REQUIRE(t, "%s is not an I/O tensor of E%d", name, e->id);
    for (int32_t i = 0; i < t->nb; i++) dims[i] = t->d[i];
    *nb_dims = t->nb;
    append("engine_io_dims E%d %s -> %s\n", e->id, name, dims_text(t->nb, t->d));
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_context_create(cudann_trt_engine engine, cudann_trt_context *context) {
    BEGIN;
    GET(e, engine, K_ENGINE);
    REQUIRE(context, "context is NULL");
    char extra[32];
    snprintf(extra, sizeof extra, " E%d", e->id);
    cudann_trt_status s = create(K_CONTEXT, __func__, (void **)context, extra);
    ((rec_obj *)(void *)*context)->io[0] = e;
    return s;
}
cudann_trt_status cudann_trt_context_destroy(cudann_trt_context c) { BEGIN; return destroy(c, K_CONTEXT, __func__); }

cudann_trt_status cudann_trt_context_set_input_shape(cudann_trt_context context, const char *name, const int64_t *dims, int32_t nb_dims) {
    BEGIN;
    GET(c, context, K_CONTEXT);
    REQUIRE(name && (dims || nb_dims == 0), "name or dims is NULL");
    rec_obj *t = engine_io(c->io[0], name);
    REQUIRE(t && t->io_mode == CUDANN_TRT_IO_MODE_INPUT, "%s is not an input of the engine", name);
    REQUIRE(nb_dims == t->nb, "%s has rank %d, not %d", name, t->nb, nb_dims);
    for (int32_t i = 0; i < nb_dims; i++)
        REQUIRE(t->d[i] < 0 || t->d[i] == dims[i], "%s: axis %d is fixed at %lld", name, i, (long long)t->d[i]);
    append("context_set_input_shape X%d %s %s\n", c->id, name, dims_text(nb_dims, dims));
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_context_set_tensor_address(cudann_trt_context context, const char *name, void *address) {
    BEGIN;
    GET(c, context, K_CONTEXT);
    REQUIRE(name, "name is NULL");
    REQUIRE(engine_io(c->io[0], name), "%s is not an I/O tensor of the engine", name);
    append("context_set_tensor_address X%d %s 0x%llx\n", c->id, name, (unsigned long long)(uintptr_t)address);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_context_enqueue(cudann_trt_context context, void *stream) {
    BEGIN;
    GET(c, context, K_CONTEXT);
    append("context_enqueue X%d stream=0x%llx\n", c->id, (unsigned long long)(uintptr_t)stream);
    return CUDANN_TRT_STATUS_OK;
}
