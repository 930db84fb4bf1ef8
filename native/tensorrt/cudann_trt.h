/* cudann_trt.h: Cuda.Nn's C API over TensorRT 10, the single source of the interface between the .NET side
 * (src/Interop.TensorRT, whose declarations tools/BindingGen generates from this file) and the C++ shim
 * (cudann_trt.cpp, the only code that sees TensorRT's C++ types). Tests link a recording implementation of the
 * same functions (tests/Cuda.Nn.Tests/Native/trt_recorder.c), a test double for the absent vendor library.
 *
 * Conventions:
 *   - Every function returns a cudann_trt_status; results come back through the last (out) parameters.
 *     On failure the out parameters are untouched and cudann_trt_last_error() holds the message (TensorRT's own
 *     where it gave one), per thread, until the next failing call on that thread.
 *   - Handles are opaque. Those with a _destroy function are owned by the caller; tensors and profiles belong to
 *     their network and builder and die with them.
 *   - Enums and flag bits are ours, numbered independently of TensorRT's; the shim maps each value explicitly,
 *     and an unknown value is CUDANN_TRT_ERROR_INVALID_ARGUMENT.
 *   - Dimensions are int64_t arrays of at most CUDANN_TRT_MAX_DIMS entries; -1 marks a dynamic extent (a batch axis
 *     fixed by an optimisation profile).
 *   - Strings are UTF-8, NUL-terminated; a layer name may be NULL (TensorRT then names the layer itself).
 *   - Lifetimes: the logger must outlive every builder and runtime made with it; weights handed to a layer
 *     (convolution, constant) are NOT copied and must stay alive, unchanged, until the engine has been built;
 *     an ONNX parser must outlive the build of the network it filled (it owns the weights it parsed).
 * C99; includes only stddef.h and stdint.h. */
#ifndef CUDANN_TRT_H
#define CUDANN_TRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CUDANN_TRT_API __declspec(dllexport)
#else
#define CUDANN_TRT_API __attribute__((visibility("default")))
#endif

/* Version of this C API: bumped whenever a signature or a value below changes (callers check it at load). */
#define CUDANN_TRT_API_VERSION 1
#define CUDANN_TRT_MAX_DIMS 8

typedef struct cudann_trt_logger_st *cudann_trt_logger;
typedef struct cudann_trt_builder_st *cudann_trt_builder;
typedef struct cudann_trt_config_st *cudann_trt_config;
typedef struct cudann_trt_network_st *cudann_trt_network;
typedef struct cudann_trt_tensor_st *cudann_trt_tensor;       /* owned by its network */
typedef struct cudann_trt_profile_st *cudann_trt_profile;     /* owned by its builder */
typedef struct cudann_trt_parser_st *cudann_trt_parser;
typedef struct cudann_trt_timing_cache_st *cudann_trt_timing_cache;
typedef struct cudann_trt_host_memory_st *cudann_trt_host_memory;
typedef struct cudann_trt_runtime_st *cudann_trt_runtime;
typedef struct cudann_trt_engine_st *cudann_trt_engine;
typedef struct cudann_trt_context_st *cudann_trt_context;

typedef enum cudann_trt_status_enum {
    CUDANN_TRT_STATUS_OK = 0,
    CUDANN_TRT_STATUS_INVALID_ARGUMENT = 1, /* a NULL handle, an unknown enum value, too many dims, ... */
    CUDANN_TRT_STATUS_TENSORRT_FAILED = 2,  /* TensorRT returned null or false; its logged error is the message */
    CUDANN_TRT_STATUS_EXCEPTION = 3,        /* a C++ exception was caught at the boundary */
    CUDANN_TRT_STATUS_PARSE_FAILED = 4,     /* the ONNX parser rejected the model; its errors are the message */
    CUDANN_TRT_STATUS_OUT_OF_MEMORY = 5
} cudann_trt_status;

typedef enum cudann_trt_severity_enum {
    CUDANN_TRT_SEVERITY_INTERNAL_ERROR = 0,
    CUDANN_TRT_SEVERITY_ERROR = 1,
    CUDANN_TRT_SEVERITY_WARNING = 2,
    CUDANN_TRT_SEVERITY_INFO = 3,
    CUDANN_TRT_SEVERITY_VERBOSE = 4
} cudann_trt_severity;

/* Precision flags for cudann_trt_config_set_flags (bits, combinable). */
typedef enum cudann_trt_builder_flag_enum {
    CUDANN_TRT_BUILDER_FLAG_NONE = 0,
    CUDANN_TRT_BUILDER_FLAG_FP16 = 1 << 0,
    CUDANN_TRT_BUILDER_FLAG_INT8 = 1 << 1,
    CUDANN_TRT_BUILDER_FLAG_BF16 = 1 << 2
} cudann_trt_builder_flag;

typedef enum cudann_trt_dtype_enum {
    CUDANN_TRT_DTYPE_FLOAT = 0,
    CUDANN_TRT_DTYPE_HALF = 1,
    CUDANN_TRT_DTYPE_BF16 = 2,
    CUDANN_TRT_DTYPE_INT8 = 3,
    CUDANN_TRT_DTYPE_INT32 = 4,
    CUDANN_TRT_DTYPE_INT64 = 5,
    CUDANN_TRT_DTYPE_BOOL = 6,
    CUDANN_TRT_DTYPE_UINT8 = 7,
    CUDANN_TRT_DTYPE_OTHER = 99 /* only returned: a TensorRT type this API does not name (FP8, INT4, ...) */
} cudann_trt_dtype;

/* alpha/beta as TensorRT defines them: CLIP is max(alpha, min(beta, x)) (relu6: 0, 6); HARD_SIGMOID is
 * max(0, min(1, alpha*x + beta)) (PyTorch's: 1/6, 1/2); LEAKY_RELU uses alpha as the slope. */
typedef enum cudann_trt_activation_enum {
    CUDANN_TRT_ACTIVATION_RELU = 0,
    CUDANN_TRT_ACTIVATION_SIGMOID = 1,
    CUDANN_TRT_ACTIVATION_TANH = 2,
    CUDANN_TRT_ACTIVATION_CLIP = 3,
    CUDANN_TRT_ACTIVATION_HARD_SIGMOID = 4,
    CUDANN_TRT_ACTIVATION_GELU_ERF = 5,
    CUDANN_TRT_ACTIVATION_LEAKY_RELU = 6
} cudann_trt_activation;

typedef enum cudann_trt_elementwise_enum {
    CUDANN_TRT_ELEMENTWISE_SUM = 0,
    CUDANN_TRT_ELEMENTWISE_PROD = 1,
    CUDANN_TRT_ELEMENTWISE_MAX = 2,
    CUDANN_TRT_ELEMENTWISE_MIN = 3,
    CUDANN_TRT_ELEMENTWISE_SUB = 4,
    CUDANN_TRT_ELEMENTWISE_DIV = 5,
    CUDANN_TRT_ELEMENTWISE_POW = 6
} cudann_trt_elementwise;

typedef enum cudann_trt_pooling_enum {
    CUDANN_TRT_POOLING_MAX = 0,
    CUDANN_TRT_POOLING_AVERAGE = 1
} cudann_trt_pooling;

typedef enum cudann_trt_reduce_enum {
    CUDANN_TRT_REDUCE_SUM = 0,
    CUDANN_TRT_REDUCE_PROD = 1,
    CUDANN_TRT_REDUCE_MAX = 2,
    CUDANN_TRT_REDUCE_MIN = 3,
    CUDANN_TRT_REDUCE_AVG = 4
} cudann_trt_reduce;

typedef enum cudann_trt_matrix_op_enum {
    CUDANN_TRT_MATRIX_OP_NONE = 0,
    CUDANN_TRT_MATRIX_OP_TRANSPOSE = 1,
    CUDANN_TRT_MATRIX_OP_VECTOR = 2 /* the operand is a batch of vectors (its last axis) */
} cudann_trt_matrix_op;

typedef enum cudann_trt_unary_enum {
    CUDANN_TRT_UNARY_EXP = 0,
    CUDANN_TRT_UNARY_LOG = 1,
    CUDANN_TRT_UNARY_SQRT = 2,
    CUDANN_TRT_UNARY_RECIP = 3,
    CUDANN_TRT_UNARY_ABS = 4,
    CUDANN_TRT_UNARY_NEG = 5,
    CUDANN_TRT_UNARY_ERF = 6
} cudann_trt_unary;

typedef enum cudann_trt_io_mode_enum {
    CUDANN_TRT_IO_MODE_NONE = 0,
    CUDANN_TRT_IO_MODE_INPUT = 1,
    CUDANN_TRT_IO_MODE_OUTPUT = 2
} cudann_trt_io_mode;

/* Called for each TensorRT message at or above the logger's minimum severity (a lower number is more severe),
 * on whichever thread TensorRT logs from. The message is valid only during the call. */
typedef void (*cudann_trt_log_callback)(void *user, cudann_trt_severity severity, const char *message);

/* ---- library ---- */

/* This thread's last error message; "" when none. Valid until the next failing call on the thread. */
CUDANN_TRT_API const char *cudann_trt_last_error(void);
/* CUDANN_TRT_API_VERSION as this library was compiled. */
CUDANN_TRT_API cudann_trt_status cudann_trt_api_version(int32_t *version);
/* The TensorRT library actually linked (getInferLibVersion), e.g. 10, 16, 1. */
CUDANN_TRT_API cudann_trt_status cudann_trt_tensorrt_version(int32_t *major, int32_t *minor, int32_t *patch);

/* ---- logger ---- */

CUDANN_TRT_API cudann_trt_status cudann_trt_logger_create(cudann_trt_log_callback callback, void *user,
                                                          cudann_trt_severity min_severity, cudann_trt_logger *logger);
CUDANN_TRT_API cudann_trt_status cudann_trt_logger_destroy(cudann_trt_logger logger);

/* ---- builder, configuration, profiles ---- */

CUDANN_TRT_API cudann_trt_status cudann_trt_builder_create(cudann_trt_logger logger, cudann_trt_builder *builder);
CUDANN_TRT_API cudann_trt_status cudann_trt_builder_destroy(cudann_trt_builder builder);

CUDANN_TRT_API cudann_trt_status cudann_trt_config_create(cudann_trt_builder builder, cudann_trt_config *config);
CUDANN_TRT_API cudann_trt_status cudann_trt_config_destroy(cudann_trt_config config);
/* Sets exactly the cudann_trt_builder_flag bits given and clears the others of ours. */
CUDANN_TRT_API cudann_trt_status cudann_trt_config_set_flags(cudann_trt_config config, uint32_t flags);
/* The workspace memory pool limit, in bytes. */
CUDANN_TRT_API cudann_trt_status cudann_trt_config_set_workspace(cudann_trt_config config, size_t bytes);

/* An optimisation profile: for each dynamic input, the smallest, most frequent and largest shape. */
CUDANN_TRT_API cudann_trt_status cudann_trt_profile_create(cudann_trt_builder builder, cudann_trt_profile *profile);
CUDANN_TRT_API cudann_trt_status cudann_trt_profile_set_dims(cudann_trt_profile profile, const char *input_name,
                                                             const int64_t *min_dims, const int64_t *opt_dims,
                                                             const int64_t *max_dims, int32_t nb_dims);
/* Adds a filled profile; index receives its number in the engine. */
CUDANN_TRT_API cudann_trt_status cudann_trt_config_add_profile(cudann_trt_config config, cudann_trt_profile profile,
                                                               int32_t *index);

/* ---- timing cache ---- */

/* From a serialised cache (data may be NULL with size 0 for an empty one). */
CUDANN_TRT_API cudann_trt_status cudann_trt_timing_cache_create(cudann_trt_config config, const void *data, size_t size,
                                                                cudann_trt_timing_cache *cache);
CUDANN_TRT_API cudann_trt_status cudann_trt_timing_cache_destroy(cudann_trt_timing_cache cache);
CUDANN_TRT_API cudann_trt_status cudann_trt_config_set_timing_cache(cudann_trt_config config, cudann_trt_timing_cache cache,
                                                                    int32_t ignore_mismatch);
CUDANN_TRT_API cudann_trt_status cudann_trt_timing_cache_serialize(cudann_trt_timing_cache cache,
                                                                   cudann_trt_host_memory *memory);

/* ---- network definition (explicit batch: the batch is an ordinary, possibly dynamic, axis) ---- */

CUDANN_TRT_API cudann_trt_status cudann_trt_network_create(cudann_trt_builder builder, cudann_trt_network *network);
CUDANN_TRT_API cudann_trt_status cudann_trt_network_destroy(cudann_trt_network network);
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_input(cudann_trt_network network, const char *name,
                                                              cudann_trt_dtype dtype, const int64_t *dims,
                                                              int32_t nb_dims, cudann_trt_tensor *output);
/* Marks tensor as an engine output and names it (the name the engine's I/O queries report). */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_mark_output(cudann_trt_network network, cudann_trt_tensor tensor,
                                                                const char *name);
/* dims receives up to CUDANN_TRT_MAX_DIMS extents (-1 where dynamic). */
CUDANN_TRT_API cudann_trt_status cudann_trt_tensor_dims(cudann_trt_tensor tensor, int64_t *dims, int32_t *nb_dims);

/* 2-D convolution of an NCHW tensor, symmetric padding. kernel holds out_channels * (C/groups) * kh * kw floats
 * (OIHW), bias NULL or out_channels floats: both are borrowed, not copied (see the lifetime note above). */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_convolution(
    cudann_trt_network network, const char *name, cudann_trt_tensor input, int64_t out_channels, int64_t kernel_h,
    int64_t kernel_w, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h,
    int64_t dilation_w, int64_t groups, const float *kernel, int64_t kernel_count, const float *bias, int64_t bias_count,
    cudann_trt_tensor *output);
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_activation(cudann_trt_network network, const char *name,
                                                                   cudann_trt_tensor input, cudann_trt_activation kind,
                                                                   float alpha, float beta, cudann_trt_tensor *output);
/* Broadcasting elementwise a op b (equal ranks; extents equal or 1). */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_elementwise(cudann_trt_network network, const char *name,
                                                                    cudann_trt_tensor a, cudann_trt_tensor b,
                                                                    cudann_trt_elementwise op, cudann_trt_tensor *output);
/* 2-D pooling, symmetric padding; count_include_pad (0/1) only matters for AVERAGE. */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_pooling(cudann_trt_network network, const char *name,
                                                                cudann_trt_tensor input, cudann_trt_pooling kind,
                                                                int64_t window_h, int64_t window_w, int64_t stride_h,
                                                                int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                                                int32_t count_include_pad, cudann_trt_tensor *output);
/* axes_mask: bit i reduces axis i (global average pooling of NCHW: AVG over 0xC, keep_dims 1 or 0). */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_reduce(cudann_trt_network network, const char *name,
                                                               cudann_trt_tensor input, cudann_trt_reduce op,
                                                               uint32_t axes_mask, int32_t keep_dims,
                                                               cudann_trt_tensor *output);
/* op(a) x op(b) over the last two axes, leading axes broadcast. */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_matmul(cudann_trt_network network, const char *name,
                                                               cudann_trt_tensor a, cudann_trt_matrix_op op_a,
                                                               cudann_trt_tensor b, cudann_trt_matrix_op op_b,
                                                               cudann_trt_tensor *output);
/* A constant tensor; values (count elements of dtype) are borrowed, not copied. */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_constant(cudann_trt_network network, const char *name,
                                                                 cudann_trt_dtype dtype, const int64_t *dims,
                                                                 int32_t nb_dims, const void *values, int64_t count,
                                                                 cudann_trt_tensor *output);
/* Softmax along one axis (negative counts from the end). */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_softmax(cudann_trt_network network, const char *name,
                                                                cudann_trt_tensor input, int32_t axis,
                                                                cudann_trt_tensor *output);
/* Transpose by first_transpose (NULL: none; output axis i is input axis first_transpose[i]), then reshape to
 * reshape_dims (NULL: none; 0 copies the input extent, -1 is inferred), as TensorRT's shuffle layer does. */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_shuffle(cudann_trt_network network, const char *name,
                                                                cudann_trt_tensor input, const int32_t *first_transpose,
                                                                int32_t transpose_nb, const int64_t *reshape_dims,
                                                                int32_t reshape_nb, cudann_trt_tensor *output);
/* Concatenation of count tensors along axis (negative counts from the end). */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_concatenation(cudann_trt_network network, const char *name,
                                                                      const cudann_trt_tensor *inputs, int32_t count,
                                                                      int32_t axis, cudann_trt_tensor *output);
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_unary(cudann_trt_network network, const char *name,
                                                              cudann_trt_tensor input, cudann_trt_unary op,
                                                              cudann_trt_tensor *output);
/* Normalisation over the axes in axes_mask: (x - mean) / sqrt(var + epsilon) * scale + bias, scale and bias
 * broadcast (layer norm over the last axis of [N, T, D]: mask 1 << 2, scale/bias [1, 1, D] constants). */
CUDANN_TRT_API cudann_trt_status cudann_trt_network_add_normalization(cudann_trt_network network, const char *name,
                                                                      cudann_trt_tensor input, cudann_trt_tensor scale,
                                                                      cudann_trt_tensor bias, uint32_t axes_mask,
                                                                      float epsilon, cudann_trt_tensor *output);

/* ---- ONNX parser ---- */

CUDANN_TRT_API cudann_trt_status cudann_trt_parser_create(cudann_trt_network network, cudann_trt_logger logger,
                                                          cudann_trt_parser *parser);
CUDANN_TRT_API cudann_trt_status cudann_trt_parser_destroy(cudann_trt_parser parser);
/* Parses a serialised ONNX model into the parser's network; the parser's errors become the last error. */
CUDANN_TRT_API cudann_trt_status cudann_trt_parser_parse(cudann_trt_parser parser, const void *data, size_t size);

/* ---- building and host memory ---- */

/* Builds the network into a serialised engine (the plan), in host memory. */
CUDANN_TRT_API cudann_trt_status cudann_trt_builder_build_serialized(cudann_trt_builder builder,
                                                                     cudann_trt_network network,
                                                                     cudann_trt_config config,
                                                                     cudann_trt_host_memory *memory);
/* The blob's bytes, valid until the memory is destroyed. */
CUDANN_TRT_API cudann_trt_status cudann_trt_host_memory_data(cudann_trt_host_memory memory, const void **data,
                                                             size_t *size);
CUDANN_TRT_API cudann_trt_status cudann_trt_host_memory_destroy(cudann_trt_host_memory memory);

/* ---- runtime, engine, execution ---- */

CUDANN_TRT_API cudann_trt_status cudann_trt_runtime_create(cudann_trt_logger logger, cudann_trt_runtime *runtime);
/* Destroy every engine of a runtime before the runtime. */
CUDANN_TRT_API cudann_trt_status cudann_trt_runtime_destroy(cudann_trt_runtime runtime);
CUDANN_TRT_API cudann_trt_status cudann_trt_runtime_deserialize(cudann_trt_runtime runtime, const void *data, size_t size,
                                                                cudann_trt_engine *engine);
CUDANN_TRT_API cudann_trt_status cudann_trt_engine_destroy(cudann_trt_engine engine);
CUDANN_TRT_API cudann_trt_status cudann_trt_engine_io_count(cudann_trt_engine engine, int32_t *count);
/* The name stays valid while the engine lives. */
CUDANN_TRT_API cudann_trt_status cudann_trt_engine_io_name(cudann_trt_engine engine, int32_t index, const char **name);
CUDANN_TRT_API cudann_trt_status cudann_trt_engine_io_mode(cudann_trt_engine engine, const char *name,
                                                           cudann_trt_io_mode *mode);
CUDANN_TRT_API cudann_trt_status cudann_trt_engine_io_dtype(cudann_trt_engine engine, const char *name,
                                                            cudann_trt_dtype *dtype);
/* The engine's shape for the tensor (-1 where dynamic). */
CUDANN_TRT_API cudann_trt_status cudann_trt_engine_io_dims(cudann_trt_engine engine, const char *name, int64_t *dims,
                                                           int32_t *nb_dims);

/* Destroy an engine's contexts before the engine. */
CUDANN_TRT_API cudann_trt_status cudann_trt_context_create(cudann_trt_engine engine, cudann_trt_context *context);
CUDANN_TRT_API cudann_trt_status cudann_trt_context_destroy(cudann_trt_context context);
CUDANN_TRT_API cudann_trt_status cudann_trt_context_set_input_shape(cudann_trt_context context, const char *name,
                                                                    const int64_t *dims, int32_t nb_dims);
/* A device address for an input or output tensor (a CUdeviceptr's value). */
CUDANN_TRT_API cudann_trt_status cudann_trt_context_set_tensor_address(cudann_trt_context context, const char *name,
                                                                       void *address);
/* Enqueues inference on a CUDA stream (a cudaStream_t / CUstream; NULL is the default stream). */
CUDANN_TRT_API cudann_trt_status cudann_trt_context_enqueue(cudann_trt_context context, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* CUDANN_TRT_H */
