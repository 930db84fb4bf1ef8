// cudann_trt.cpp: the C shim over TensorRT 10 that cudann_trt.h declares. The only file that sees TensorRT's
// C++ types. Every entry point catches every exception (nothing C++ crosses the C boundary), maps our enums to
// TensorRT's with explicit switches (our numbering is independent of theirs), and turns a null or false from
// TensorRT into a status plus a last-error message that carries the error TensorRT logged on this thread.
// Handles are TensorRT's own object pointers, cast; the logger is ours (Logger below).
#include "cudann_trt.h"

#include <NvInfer.h>
#include <NvOnnxParser.h>
#include <cuda_runtime_api.h>

#include <exception>
#include <new>
#include <string>
#include <vector>

namespace nv = nvinfer1;

namespace {

thread_local std::string g_last_error;
// The last error TensorRT logged on this thread during the current call (cleared on entry to each call).
thread_local std::string g_trt_error;

cudann_trt_status fail(cudann_trt_status status, const char *function, const std::string &message) noexcept {
    try {
        g_last_error = std::string(function) + ": " + message;
    } catch (...) {
        // Out of memory while formatting: keep whatever was there; the status still says what happened.
    }
    return status;
}

// TensorRT returned null/false: its logged error (if any) is the useful part of the message.
cudann_trt_status trt_failed(const char *function, const char *what) noexcept {
    std::string message;
    try {
        message = std::string(what) + " failed" + (g_trt_error.empty() ? " (TensorRT logged no error)" : ": " + g_trt_error);
    } catch (...) {
    }
    return fail(CUDANN_TRT_STATUS_TENSORRT_FAILED, function, message);
}

cudann_trt_status invalid(const char *function, const std::string &message) noexcept {
    return fail(CUDANN_TRT_STATUS_INVALID_ARGUMENT, function, message);
}

class Logger final : public nv::ILogger {
public:
    Logger(cudann_trt_log_callback callback, void *user, int min_severity)
        : callback_(callback), user_(user), min_severity_(min_severity) {}

    void log(Severity severity, nv::AsciiChar const *message) noexcept override {
        int ours = CUDANN_TRT_SEVERITY_VERBOSE;
        switch (severity) {
        case Severity::kINTERNAL_ERROR: ours = CUDANN_TRT_SEVERITY_INTERNAL_ERROR; break;
        case Severity::kERROR: ours = CUDANN_TRT_SEVERITY_ERROR; break;
        case Severity::kWARNING: ours = CUDANN_TRT_SEVERITY_WARNING; break;
        case Severity::kINFO: ours = CUDANN_TRT_SEVERITY_INFO; break;
        case Severity::kVERBOSE: ours = CUDANN_TRT_SEVERITY_VERBOSE; break;
        }
        if (ours <= CUDANN_TRT_SEVERITY_ERROR && message != nullptr) {
            try {
                if (!g_trt_error.empty()) g_trt_error += " | ";
                g_trt_error += message;
            } catch (...) {
            }
        }
        if (callback_ != nullptr && ours <= min_severity_) callback_(user_, static_cast<cudann_trt_severity>(ours), message);
    }

private:
    cudann_trt_log_callback callback_;
    void *user_;
    int min_severity_;
};

template <typename T, typename H> T *as(H handle) { return reinterpret_cast<T *>(handle); }
template <typename H, typename T> H handle(T *object) { return reinterpret_cast<H>(object); }

bool to_dims(const int64_t *dims, int32_t nb_dims, nv::Dims &out) {
    if (nb_dims < 0 || nb_dims > nv::Dims::MAX_DIMS || (nb_dims > 0 && dims == nullptr)) return false;
    out.nbDims = nb_dims;
    for (int32_t i = 0; i < nb_dims; i++) out.d[i] = dims[i];
    return true;
}

nv::Dims dims2(int64_t h, int64_t w) {
    nv::Dims d{};
    d.nbDims = 2;
    d.d[0] = h;
    d.d[1] = w;
    return d;
}

bool map_dtype(cudann_trt_dtype dtype, nv::DataType &out) {
    switch (dtype) {
    case CUDANN_TRT_DTYPE_FLOAT: out = nv::DataType::kFLOAT; return true;
    case CUDANN_TRT_DTYPE_HALF: out = nv::DataType::kHALF; return true;
    case CUDANN_TRT_DTYPE_BF16: out = nv::DataType::kBF16; return true;
    case CUDANN_TRT_DTYPE_INT8: out = nv::DataType::kINT8; return true;
    case CUDANN_TRT_DTYPE_INT32: out = nv::DataType::kINT32; return true;
    case CUDANN_TRT_DTYPE_INT64: out = nv::DataType::kINT64; return true;
    case CUDANN_TRT_DTYPE_BOOL: out = nv::DataType::kBOOL; return true;
    case CUDANN_TRT_DTYPE_UINT8: out = nv::DataType::kUINT8; return true;
    default: return false;
    }
}

cudann_trt_dtype ours(nv::DataType dtype) {
    switch (dtype) {
    case nv::DataType::kFLOAT: return CUDANN_TRT_DTYPE_FLOAT;
    case nv::DataType::kHALF: return CUDANN_TRT_DTYPE_HALF;
    case nv::DataType::kBF16: return CUDANN_TRT_DTYPE_BF16;
    case nv::DataType::kINT8: return CUDANN_TRT_DTYPE_INT8;
    case nv::DataType::kINT32: return CUDANN_TRT_DTYPE_INT32;
    case nv::DataType::kINT64: return CUDANN_TRT_DTYPE_INT64;
    case nv::DataType::kBOOL: return CUDANN_TRT_DTYPE_BOOL;
    case nv::DataType::kUINT8: return CUDANN_TRT_DTYPE_UINT8;
    default: return CUDANN_TRT_DTYPE_OTHER;
    }
}

bool map_activation(cudann_trt_activation kind, nv::ActivationType &out) {
    switch (kind) {
    case CUDANN_TRT_ACTIVATION_RELU: out = nv::ActivationType::kRELU; return true;
    case CUDANN_TRT_ACTIVATION_SIGMOID: out = nv::ActivationType::kSIGMOID; return true;
    case CUDANN_TRT_ACTIVATION_TANH: out = nv::ActivationType::kTANH; return true;
    case CUDANN_TRT_ACTIVATION_CLIP: out = nv::ActivationType::kCLIP; return true;
    case CUDANN_TRT_ACTIVATION_HARD_SIGMOID: out = nv::ActivationType::kHARD_SIGMOID; return true;
    case CUDANN_TRT_ACTIVATION_GELU_ERF: out = nv::ActivationType::kGELU_ERF; return true;
    case CUDANN_TRT_ACTIVATION_LEAKY_RELU: out = nv::ActivationType::kLEAKY_RELU; return true;
    default: return false;
    }
}

bool map_elementwise(cudann_trt_elementwise op, nv::ElementWiseOperation &out) {
    switch (op) {
    case CUDANN_TRT_ELEMENTWISE_SUM: out = nv::ElementWiseOperation::kSUM; return true;
    case CUDANN_TRT_ELEMENTWISE_PROD: out = nv::ElementWiseOperation::kPROD; return true;
    case CUDANN_TRT_ELEMENTWISE_MAX: out = nv::ElementWiseOperation::kMAX; return true;
    case CUDANN_TRT_ELEMENTWISE_MIN: out = nv::ElementWiseOperation::kMIN; return true;
    case CUDANN_TRT_ELEMENTWISE_SUB: out = nv::ElementWiseOperation::kSUB; return true;
    case CUDANN_TRT_ELEMENTWISE_DIV: out = nv::ElementWiseOperation::kDIV; return true;
    case CUDANN_TRT_ELEMENTWISE_POW: out = nv::ElementWiseOperation::kPOW; return true;
    default: return false;
    }
}

bool map_reduce(cudann_trt_reduce op, nv::ReduceOperation &out) {
    switch (op) {
    case CUDANN_TRT_REDUCE_SUM: out = nv::ReduceOperation::kSUM; return true;
    case CUDANN_TRT_REDUCE_PROD: out = nv::ReduceOperation::kPROD; return true;
    case CUDANN_TRT_REDUCE_MAX: out = nv::ReduceOperation::kMAX; return true;
    case CUDANN_TRT_REDUCE_MIN: out = nv::ReduceOperation::kMIN; return true;
    case CUDANN_TRT_REDUCE_AVG: out = nv::ReduceOperation::kAVG; return true;
    default: return false;
    }
}

bool map_matrix_op(cudann_trt_matrix_op op, nv::MatrixOperation &out) {
    switch (op) {
    case CUDANN_TRT_MATRIX_OP_NONE: out = nv::MatrixOperation::kNONE; return true;
    case CUDANN_TRT_MATRIX_OP_TRANSPOSE: out = nv::MatrixOperation::kTRANSPOSE; return true;
    case CUDANN_TRT_MATRIX_OP_VECTOR: out = nv::MatrixOperation::kVECTOR; return true;
    default: return false;
    }
}

bool map_unary(cudann_trt_unary op, nv::UnaryOperation &out) {
    switch (op) {
    case CUDANN_TRT_UNARY_EXP: out = nv::UnaryOperation::kEXP; return true;
    case CUDANN_TRT_UNARY_LOG: out = nv::UnaryOperation::kLOG; return true;
    case CUDANN_TRT_UNARY_SQRT: out = nv::UnaryOperation::kSQRT; return true;
    case CUDANN_TRT_UNARY_RECIP: out = nv::UnaryOperation::kRECIP; return true;
    case CUDANN_TRT_UNARY_ABS: out = nv::UnaryOperation::kABS; return true;
    case CUDANN_TRT_UNARY_NEG: out = nv::UnaryOperation::kNEG; return true;
    case CUDANN_TRT_UNARY_ERF: out = nv::UnaryOperation::kERF; return true;
    default: return false;
    }
}

// A layer was added (or not): name it and hand back its first output.
cudann_trt_status finish(const char *function, nv::ILayer *layer, const char *name, cudann_trt_tensor *output) {
    if (layer == nullptr) return trt_failed(function, "adding the layer");
    if (name != nullptr) layer->setName(name);
    nv::ITensor *out = layer->getOutput(0);
    if (out == nullptr) return trt_failed(function, "getOutput(0)");
    *output = handle<cudann_trt_tensor>(out);
    return CUDANN_TRT_STATUS_OK;
}

int32_t normalise_axis(int32_t axis, int32_t rank) { return axis < 0 ? axis + rank : axis; }

} // namespace

// Every entry point's body runs inside this: no exception leaves, and a TensorRT error logged earlier on this
// thread does not leak into this call's message.
#define CUDANN_TRT_GUARD(...)                                                                                        \
    try {                                                                                                            \
        g_trt_error.clear();                                                                                         \
        __VA_ARGS__                                                                                                  \
    } catch (const std::bad_alloc &) {                                                                               \
        return fail(CUDANN_TRT_STATUS_OUT_OF_MEMORY, __func__, "out of memory");                                     \
    } catch (const std::exception &e) {                                                                              \
        return fail(CUDANN_TRT_STATUS_EXCEPTION, __func__, std::string("C++ exception: ") + e.what());                \
    } catch (...) {                                                                                                  \
        return fail(CUDANN_TRT_STATUS_EXCEPTION, __func__, "unknown C++ exception");                                 \
    }

#define REQUIRE(condition, message)                                                                                  \
    do {                                                                                                             \
        if (!(condition)) return invalid(__func__, message);                                                         \
    } while (0)

extern "C" {

const char *cudann_trt_last_error(void) { return g_last_error.c_str(); }

cudann_trt_status cudann_trt_api_version(int32_t *version) {
    REQUIRE(version != nullptr, "version is NULL");
    *version = CUDANN_TRT_API_VERSION;
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_tensorrt_version(int32_t *major, int32_t *minor, int32_t *patch) {
    REQUIRE(major != nullptr && minor != nullptr && patch != nullptr, "an output pointer is NULL");
    int32_t v = getInferLibVersion(); // (MAJOR * 100 + MINOR) * 100 + PATCH
    *major = v / 10000;
    *minor = v / 100 % 100;
    *patch = v % 100;
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_logger_create(cudann_trt_log_callback callback, void *user, cudann_trt_severity min_severity,
                                           cudann_trt_logger *logger) {
    REQUIRE(logger != nullptr, "logger is NULL");
    REQUIRE(min_severity >= CUDANN_TRT_SEVERITY_INTERNAL_ERROR && min_severity <= CUDANN_TRT_SEVERITY_VERBOSE,
            "min_severity is not a cudann_trt_severity");
    CUDANN_TRT_GUARD(*logger = handle<cudann_trt_logger>(new Logger(callback, user, min_severity));
                     return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_logger_destroy(cudann_trt_logger logger) {
    CUDANN_TRT_GUARD(delete as<Logger>(logger); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_builder_create(cudann_trt_logger logger, cudann_trt_builder *builder) {
    REQUIRE(logger != nullptr && builder != nullptr, "logger or builder is NULL");
    CUDANN_TRT_GUARD(nv::IBuilder *b = nv::createInferBuilder(*as<Logger>(logger));
                     if (b == nullptr) return trt_failed(__func__, "createInferBuilder");
                     *builder = handle<cudann_trt_builder>(b); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_builder_destroy(cudann_trt_builder builder) {
    CUDANN_TRT_GUARD(delete as<nv::IBuilder>(builder); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_config_create(cudann_trt_builder builder, cudann_trt_config *config) {
    REQUIRE(builder != nullptr && config != nullptr, "builder or config is NULL");
    CUDANN_TRT_GUARD(nv::IBuilderConfig *c = as<nv::IBuilder>(builder)->createBuilderConfig();
                     if (c == nullptr) return trt_failed(__func__, "createBuilderConfig");
                     *config = handle<cudann_trt_config>(c); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_config_destroy(cudann_trt_config config) {
    CUDANN_TRT_GUARD(delete as<nv::IBuilderConfig>(config); return CUDANN_TRT_STATUS_OK;)
}

// TensorRT 10.12+ deprecates the precision flags in favour of strongly typed networks; weakly typed networks
// with these flags are still how a float model is built for FP16/BF16/INT8, so the warning is silenced here only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
cudann_trt_status cudann_trt_config_set_flags(cudann_trt_config config, uint32_t flags) {
    REQUIRE(config != nullptr, "config is NULL");
    const uint32_t known = CUDANN_TRT_BUILDER_FLAG_FP16 | CUDANN_TRT_BUILDER_FLAG_INT8 | CUDANN_TRT_BUILDER_FLAG_BF16;
    REQUIRE((flags & ~known) == 0, "flags has bits that are not cudann_trt_builder_flag values");
    CUDANN_TRT_GUARD(
        nv::IBuilderConfig *c = as<nv::IBuilderConfig>(config);
        const struct { uint32_t ours; nv::BuilderFlag theirs; } map[] = {
            {CUDANN_TRT_BUILDER_FLAG_FP16, nv::BuilderFlag::kFP16},
            {CUDANN_TRT_BUILDER_FLAG_INT8, nv::BuilderFlag::kINT8},
            {CUDANN_TRT_BUILDER_FLAG_BF16, nv::BuilderFlag::kBF16},
        };
        for (const auto &m : map) {
            if (flags & m.ours) c->setFlag(m.theirs);
            else c->clearFlag(m.theirs);
        }
        return CUDANN_TRT_STATUS_OK;)
}
#pragma GCC diagnostic pop

cudann_trt_status cudann_trt_config_set_workspace(cudann_trt_config config, size_t bytes) {
    REQUIRE(config != nullptr, "config is NULL");
    CUDANN_TRT_GUARD(as<nv::IBuilderConfig>(config)->setMemoryPoolLimit(nv::MemoryPoolType::kWORKSPACE, bytes);
                     return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_profile_create(cudann_trt_builder builder, cudann_trt_profile *profile) {
    REQUIRE(builder != nullptr && profile != nullptr, "builder or profile is NULL");
    CUDANN_TRT_GUARD(nv::IOptimizationProfile *p = as<nv::IBuilder>(builder)->createOptimizationProfile();
                     if (p == nullptr) return trt_failed(__func__, "createOptimizationProfile");
                     *profile = handle<cudann_trt_profile>(p); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_profile_set_dims(cudann_trt_profile profile, const char *input_name, const int64_t *min_dims,
                                              const int64_t *opt_dims, const int64_t *max_dims, int32_t nb_dims) {
    REQUIRE(profile != nullptr && input_name != nullptr, "profile or input_name is NULL");
    nv::Dims lo{}, mid{}, hi{};
    REQUIRE(to_dims(min_dims, nb_dims, lo) && to_dims(opt_dims, nb_dims, mid) && to_dims(max_dims, nb_dims, hi),
            "min/opt/max dims are NULL or nb_dims is outside 0..CUDANN_TRT_MAX_DIMS");
    CUDANN_TRT_GUARD(
        nv::IOptimizationProfile *p = as<nv::IOptimizationProfile>(profile);
        if (!p->setDimensions(input_name, nv::OptProfileSelector::kMIN, lo) ||
            !p->setDimensions(input_name, nv::OptProfileSelector::kOPT, mid) ||
            !p->setDimensions(input_name, nv::OptProfileSelector::kMAX, hi))
            return trt_failed(__func__, (std::string("setDimensions for ") + input_name).c_str());
        return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_config_add_profile(cudann_trt_config config, cudann_trt_profile profile, int32_t *index) {
    REQUIRE(config != nullptr && profile != nullptr && index != nullptr, "config, profile or index is NULL");
    CUDANN_TRT_GUARD(int32_t i = as<nv::IBuilderConfig>(config)->addOptimizationProfile(as<nv::IOptimizationProfile>(profile));
                     if (i < 0) return trt_failed(__func__, "addOptimizationProfile (is the profile complete and valid?)");
                     *index = i; return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_timing_cache_create(cudann_trt_config config, const void *data, size_t size,
                                                 cudann_trt_timing_cache *cache) {
    REQUIRE(config != nullptr && cache != nullptr, "config or cache is NULL");
    REQUIRE(data != nullptr || size == 0, "data is NULL but size is not 0");
    CUDANN_TRT_GUARD(nv::ITimingCache *t = as<nv::IBuilderConfig>(config)->createTimingCache(data, size);
                     if (t == nullptr) return trt_failed(__func__, "createTimingCache");
                     *cache = handle<cudann_trt_timing_cache>(t); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_timing_cache_destroy(cudann_trt_timing_cache cache) {
    CUDANN_TRT_GUARD(delete as<nv::ITimingCache>(cache); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_config_set_timing_cache(cudann_trt_config config, cudann_trt_timing_cache cache,
                                                     int32_t ignore_mismatch) {
    REQUIRE(config != nullptr && cache != nullptr, "config or cache is NULL");
    CUDANN_TRT_GUARD(if (!as<nv::IBuilderConfig>(config)->setTimingCache(*as<nv::ITimingCache>(cache), ignore_mismatch != 0))
                         return trt_failed(__func__, "setTimingCache");
                     return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_timing_cache_serialize(cudann_trt_timing_cache cache, cudann_trt_host_memory *memory) {
    REQUIRE(cache != nullptr && memory != nullptr, "cache or memory is NULL");
    CUDANN_TRT_GUARD(nv::IHostMemory *m = as<nv::ITimingCache>(cache)->serialize();
                     if (m == nullptr) return trt_failed(__func__, "ITimingCache::serialize");
                     *memory = handle<cudann_trt_host_memory>(m); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_network_create(cudann_trt_builder builder, cudann_trt_network *network) {
    REQUIRE(builder != nullptr && network != nullptr, "builder or network is NULL");
    // Flags 0: TensorRT 10 networks are always explicit-batch (kEXPLICIT_BATCH is deprecated and ignored).
    CUDANN_TRT_GUARD(nv::INetworkDefinition *n = as<nv::IBuilder>(builder)->createNetworkV2(0U);
                     if (n == nullptr) return trt_failed(__func__, "createNetworkV2");
                     *network = handle<cudann_trt_network>(n); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_network_destroy(cudann_trt_network network) {
    CUDANN_TRT_GUARD(delete as<nv::INetworkDefinition>(network); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_network_add_input(cudann_trt_network network, const char *name, cudann_trt_dtype dtype,
                                               const int64_t *dims, int32_t nb_dims, cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && name != nullptr && output != nullptr, "network, name or output is NULL");
    nv::DataType type{};
    nv::Dims d{};
    REQUIRE(map_dtype(dtype, type), "dtype is not a cudann_trt_dtype");
    REQUIRE(to_dims(dims, nb_dims, d), "dims is NULL or nb_dims is outside 0..CUDANN_TRT_MAX_DIMS");
    CUDANN_TRT_GUARD(nv::ITensor *t = as<nv::INetworkDefinition>(network)->addInput(name, type, d);
                     if (t == nullptr) return trt_failed(__func__, "addInput");
                     *output = handle<cudann_trt_tensor>(t); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_network_mark_output(cudann_trt_network network, cudann_trt_tensor tensor, const char *name) {
    REQUIRE(network != nullptr && tensor != nullptr, "network or tensor is NULL");
    CUDANN_TRT_GUARD(nv::ITensor *t = as<nv::ITensor>(tensor); if (name != nullptr) t->setName(name);
                     as<nv::INetworkDefinition>(network)->markOutput(*t); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_tensor_dims(cudann_trt_tensor tensor, int64_t *dims, int32_t *nb_dims) {
    REQUIRE(tensor != nullptr && dims != nullptr && nb_dims != nullptr, "tensor, dims or nb_dims is NULL");
    CUDANN_TRT_GUARD(nv::Dims d = as<nv::ITensor>(tensor)->getDimensions();
                     if (d.nbDims < 0) return trt_failed(__func__, "getDimensions");
                     for (int32_t i = 0; i < d.nbDims; i++) dims[i] = d.d[i];
                     *nb_dims = d.nbDims; return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_network_add_convolution(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                     int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                                                     int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                                     int64_t dilation_h, int64_t dilation_w, int64_t groups,
                                                     const float *kernel, int64_t kernel_count, const float *bias,
                                                     int64_t bias_count, cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && input != nullptr && output != nullptr && kernel != nullptr,
            "network, input, kernel or output is NULL");
    REQUIRE(out_channels > 0 && kernel_h > 0 && kernel_w > 0 && stride_h > 0 && stride_w > 0 && dilation_h > 0 &&
                dilation_w > 0 && groups > 0 && pad_h >= 0 && pad_w >= 0,
            "sizes, strides, dilations and groups must be positive and padding non-negative");
    REQUIRE(bias == nullptr ? bias_count == 0 : bias_count == out_channels, "bias_count must be out_channels (or 0 without bias)");
    CUDANN_TRT_GUARD(
        nv::ITensor *in = as<nv::ITensor>(input);
        nv::Dims shape = in->getDimensions();
        if (shape.nbDims == 4 && shape.d[1] > 0 &&
            kernel_count != out_channels * (shape.d[1] / groups) * kernel_h * kernel_w)
            return invalid(__func__, "kernel_count is not out_channels * (C / groups) * kernel_h * kernel_w");
        nv::Weights k{nv::DataType::kFLOAT, kernel, kernel_count};
        nv::Weights b{nv::DataType::kFLOAT, bias, bias == nullptr ? 0 : bias_count};
        nv::IConvolutionLayer *layer =
            as<nv::INetworkDefinition>(network)->addConvolutionNd(*in, out_channels, dims2(kernel_h, kernel_w), k, b);
        if (layer != nullptr) {
            layer->setStrideNd(dims2(stride_h, stride_w));
            layer->setPaddingNd(dims2(pad_h, pad_w));
            layer->setDilationNd(dims2(dilation_h, dilation_w));
            layer->setNbGroups(groups);
        }
        return finish(__func__, layer, name, output);)
}

cudann_trt_status cudann_trt_network_add_activation(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                    cudann_trt_activation kind, float alpha, float beta,
                                                    cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && input != nullptr && output != nullptr, "network, input or output is NULL");
    nv::ActivationType type{};
    REQUIRE(map_activation(kind, type), "kind is not a cudann_trt_activation");
    CUDANN_TRT_GUARD(nv::IActivationLayer *layer = as<nv::INetworkDefinition>(network)->addActivation(*as<nv::ITensor>(input), type);
                     if (layer != nullptr) { layer->setAlpha(alpha); layer->setBeta(beta); }
                     return finish(__func__, layer, name, output);)
}

cudann_trt_status cudann_trt_network_add_elementwise(cudann_trt_network network, const char *name, cudann_trt_tensor a,
                                                     cudann_trt_tensor b, cudann_trt_elementwise op,
                                                     cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && a != nullptr && b != nullptr && output != nullptr, "network, a, b or output is NULL");
    nv::ElementWiseOperation type{};
    REQUIRE(map_elementwise(op, type), "op is not a cudann_trt_elementwise");
    CUDANN_TRT_GUARD(return finish(__func__, as<nv::INetworkDefinition>(network)->addElementWise(*as<nv::ITensor>(a), *as<nv::ITensor>(b), type),
                                   name, output);)
}

cudann_trt_status cudann_trt_network_add_pooling(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                 cudann_trt_pooling kind, int64_t window_h, int64_t window_w,
                                                 int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                                 int32_t count_include_pad, cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && input != nullptr && output != nullptr, "network, input or output is NULL");
    REQUIRE(kind == CUDANN_TRT_POOLING_MAX || kind == CUDANN_TRT_POOLING_AVERAGE, "kind is not a cudann_trt_pooling");
    REQUIRE(window_h > 0 && window_w > 0 && stride_h > 0 && stride_w > 0 && pad_h >= 0 && pad_w >= 0,
            "windows and strides must be positive and padding non-negative");
    CUDANN_TRT_GUARD(
        nv::PoolingType type = kind == CUDANN_TRT_POOLING_MAX ? nv::PoolingType::kMAX : nv::PoolingType::kAVERAGE;
        nv::IPoolingLayer *layer = as<nv::INetworkDefinition>(network)->addPoolingNd(*as<nv::ITensor>(input), type, dims2(window_h, window_w));
        if (layer != nullptr) {
            layer->setStrideNd(dims2(stride_h, stride_w));
            layer->setPaddingNd(dims2(pad_h, pad_w));
            layer->setAverageCountExcludesPadding(count_include_pad == 0);
        }
        return finish(__func__, layer, name, output);)
}

cudann_trt_status cudann_trt_network_add_reduce(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                cudann_trt_reduce op, uint32_t axes_mask, int32_t keep_dims,
                                                cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && input != nullptr && output != nullptr, "network, input or output is NULL");
    nv::ReduceOperation type{};
    REQUIRE(map_reduce(op, type), "op is not a cudann_trt_reduce");
    REQUIRE(axes_mask != 0, "axes_mask names no axis");
    CUDANN_TRT_GUARD(return finish(__func__, as<nv::INetworkDefinition>(network)->addReduce(*as<nv::ITensor>(input), type, axes_mask, keep_dims != 0),
                                   name, output);)
}

cudann_trt_status cudann_trt_network_add_matmul(cudann_trt_network network, const char *name, cudann_trt_tensor a,
                                                cudann_trt_matrix_op op_a, cudann_trt_tensor b, cudann_trt_matrix_op op_b,
                                                cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && a != nullptr && b != nullptr && output != nullptr, "network, a, b or output is NULL");
    nv::MatrixOperation ta{}, tb{};
    REQUIRE(map_matrix_op(op_a, ta) && map_matrix_op(op_b, tb), "op_a or op_b is not a cudann_trt_matrix_op");
    CUDANN_TRT_GUARD(return finish(__func__, as<nv::INetworkDefinition>(network)->addMatrixMultiply(*as<nv::ITensor>(a), ta, *as<nv::ITensor>(b), tb),
                                   name, output);)
}

cudann_trt_status cudann_trt_network_add_constant(cudann_trt_network network, const char *name, cudann_trt_dtype dtype,
                                                  const int64_t *dims, int32_t nb_dims, const void *values, int64_t count,
                                                  cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && values != nullptr && output != nullptr, "network, values or output is NULL");
    nv::DataType type{};
    nv::Dims d{};
    REQUIRE(map_dtype(dtype, type), "dtype is not a cudann_trt_dtype");
    REQUIRE(to_dims(dims, nb_dims, d), "dims is NULL or nb_dims is outside 0..CUDANN_TRT_MAX_DIMS");
    int64_t volume = 1;
    for (int32_t i = 0; i < nb_dims; i++) volume *= dims[i];
    REQUIRE(volume == count, "count is not the product of dims");
    CUDANN_TRT_GUARD(return finish(__func__, as<nv::INetworkDefinition>(network)->addConstant(d, nv::Weights{type, values, count}), name, output);)
}

cudann_trt_status cudann_trt_network_add_softmax(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                 int32_t axis, cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && input != nullptr && output != nullptr, "network, input or output is NULL");
    CUDANN_TRT_GUARD(
        nv::ITensor *in = as<nv::ITensor>(input);
        int32_t a = normalise_axis(axis, in->getDimensions().nbDims);
        if (a < 0 || a >= in->getDimensions().nbDims) return invalid(__func__, "axis is outside the input's rank");
        nv::ISoftMaxLayer *layer = as<nv::INetworkDefinition>(network)->addSoftMax(*in);
        if (layer != nullptr) layer->setAxes(1U << a);
        return finish(__func__, layer, name, output);)
}

cudann_trt_status cudann_trt_network_add_shuffle(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                 const int32_t *first_transpose, int32_t transpose_nb,
                                                 const int64_t *reshape_dims, int32_t reshape_nb, cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && input != nullptr && output != nullptr, "network, input or output is NULL");
    REQUIRE(first_transpose == nullptr || (transpose_nb > 0 && transpose_nb <= nv::Dims::MAX_DIMS),
            "transpose_nb is outside 1..CUDANN_TRT_MAX_DIMS");
    nv::Dims reshape{};
    REQUIRE(reshape_dims == nullptr || to_dims(reshape_dims, reshape_nb, reshape), "reshape_nb is outside 0..CUDANN_TRT_MAX_DIMS");
    CUDANN_TRT_GUARD(
        nv::IShuffleLayer *layer = as<nv::INetworkDefinition>(network)->addShuffle(*as<nv::ITensor>(input));
        if (layer != nullptr && first_transpose != nullptr) {
            nv::Permutation p{};
            for (int32_t i = 0; i < nv::Dims::MAX_DIMS; i++) p.order[i] = i < transpose_nb ? first_transpose[i] : i;
            layer->setFirstTranspose(p);
        }
        if (layer != nullptr && reshape_dims != nullptr) layer->setReshapeDimensions(reshape);
        return finish(__func__, layer, name, output);)
}

cudann_trt_status cudann_trt_network_add_concatenation(cudann_trt_network network, const char *name,
                                                       const cudann_trt_tensor *inputs, int32_t count, int32_t axis,
                                                       cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && inputs != nullptr && output != nullptr && count > 0, "network, inputs or output is NULL, or count < 1");
    CUDANN_TRT_GUARD(
        std::vector<nv::ITensor *> tensors(static_cast<size_t>(count));
        for (int32_t i = 0; i < count; i++) {
            if (inputs[i] == nullptr) return invalid(__func__, "an input tensor is NULL");
            tensors[static_cast<size_t>(i)] = as<nv::ITensor>(inputs[i]);
        }
        int32_t a = normalise_axis(axis, tensors[0]->getDimensions().nbDims);
        if (a < 0 || a >= tensors[0]->getDimensions().nbDims) return invalid(__func__, "axis is outside the inputs' rank");
        nv::IConcatenationLayer *layer = as<nv::INetworkDefinition>(network)->addConcatenation(tensors.data(), count);
        if (layer != nullptr) layer->setAxis(a);
        return finish(__func__, layer, name, output);)
}

cudann_trt_status cudann_trt_network_add_unary(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                               cudann_trt_unary op, cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && input != nullptr && output != nullptr, "network, input or output is NULL");
    nv::UnaryOperation type{};
    REQUIRE(map_unary(op, type), "op is not a cudann_trt_unary");
    CUDANN_TRT_GUARD(return finish(__func__, as<nv::INetworkDefinition>(network)->addUnary(*as<nv::ITensor>(input), type), name, output);)
}

cudann_trt_status cudann_trt_network_add_normalization(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                       cudann_trt_tensor scale, cudann_trt_tensor bias, uint32_t axes_mask,
                                                       float epsilon, cudann_trt_tensor *output) {
    REQUIRE(network != nullptr && input != nullptr && scale != nullptr && bias != nullptr && output != nullptr,
            "network, input, scale, bias or output is NULL");
    REQUIRE(axes_mask != 0, "axes_mask names no axis");
    CUDANN_TRT_GUARD(
        nv::INetworkDefinition *n = as<nv::INetworkDefinition>(network);
        nv::ITensor &x = *as<nv::ITensor>(input), &s = *as<nv::ITensor>(scale), &b = *as<nv::ITensor>(bias);
#if NV_TENSORRT_MAJOR * 100 + NV_TENSORRT_MINOR >= 1015
        nv::INormalizationLayer *layer = n->addNormalizationV2(x, s, b, axes_mask); // 10.15 deprecates addNormalization
#else
        nv::INormalizationLayer *layer = n->addNormalization(x, s, b, axes_mask);
#endif
        if (layer != nullptr) layer->setEpsilon(epsilon);
        return finish(__func__, layer, name, output);)
}

cudann_trt_status cudann_trt_parser_create(cudann_trt_network network, cudann_trt_logger logger, cudann_trt_parser *parser) {
    REQUIRE(network != nullptr && logger != nullptr && parser != nullptr, "network, logger or parser is NULL");
    CUDANN_TRT_GUARD(nvonnxparser::IParser *p = nvonnxparser::createParser(*as<nv::INetworkDefinition>(network), *as<Logger>(logger));
                     if (p == nullptr) return trt_failed(__func__, "nvonnxparser::createParser");
                     *parser = handle<cudann_trt_parser>(p); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_parser_destroy(cudann_trt_parser parser) {
    CUDANN_TRT_GUARD(delete as<nvonnxparser::IParser>(parser); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_parser_parse(cudann_trt_parser parser, const void *data, size_t size) {
    REQUIRE(parser != nullptr && data != nullptr && size > 0, "parser or data is NULL, or size is 0");
    CUDANN_TRT_GUARD(
        nvonnxparser::IParser *p = as<nvonnxparser::IParser>(parser);
        if (p->parse(data, size)) return CUDANN_TRT_STATUS_OK;
        std::string errors;
        for (int32_t i = 0; i < p->getNbErrors(); i++) {
            const nvonnxparser::IParserError *e = p->getError(i);
            if (!errors.empty()) errors += "; ";
            errors += std::string("node ") + std::to_string(e->node()) + " (" + (e->nodeName() ? e->nodeName() : "") + "): " + e->desc();
        }
        return fail(CUDANN_TRT_STATUS_PARSE_FAILED, __func__, errors.empty() ? "the ONNX parser failed without an error" : errors);)
}

cudann_trt_status cudann_trt_builder_build_serialized(cudann_trt_builder builder, cudann_trt_network network,
                                                      cudann_trt_config config, cudann_trt_host_memory *memory) {
    REQUIRE(builder != nullptr && network != nullptr && config != nullptr && memory != nullptr,
            "builder, network, config or memory is NULL");
    CUDANN_TRT_GUARD(
        nv::IHostMemory *m = as<nv::IBuilder>(builder)->buildSerializedNetwork(*as<nv::INetworkDefinition>(network), *as<nv::IBuilderConfig>(config));
        if (m == nullptr) return trt_failed(__func__, "buildSerializedNetwork");
        *memory = handle<cudann_trt_host_memory>(m); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_host_memory_data(cudann_trt_host_memory memory, const void **data, size_t *size) {
    REQUIRE(memory != nullptr && data != nullptr && size != nullptr, "memory, data or size is NULL");
    CUDANN_TRT_GUARD(nv::IHostMemory *m = as<nv::IHostMemory>(memory); *data = m->data(); *size = m->size();
                     return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_host_memory_destroy(cudann_trt_host_memory memory) {
    CUDANN_TRT_GUARD(delete as<nv::IHostMemory>(memory); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_runtime_create(cudann_trt_logger logger, cudann_trt_runtime *runtime) {
    REQUIRE(logger != nullptr && runtime != nullptr, "logger or runtime is NULL");
    CUDANN_TRT_GUARD(nv::IRuntime *r = nv::createInferRuntime(*as<Logger>(logger));
                     if (r == nullptr) return trt_failed(__func__, "createInferRuntime");
                     *runtime = handle<cudann_trt_runtime>(r); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_runtime_destroy(cudann_trt_runtime runtime) {
    CUDANN_TRT_GUARD(delete as<nv::IRuntime>(runtime); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_runtime_deserialize(cudann_trt_runtime runtime, const void *data, size_t size,
                                                 cudann_trt_engine *engine) {
    REQUIRE(runtime != nullptr && data != nullptr && size > 0 && engine != nullptr, "runtime, data or engine is NULL, or size is 0");
    CUDANN_TRT_GUARD(nv::ICudaEngine *e = as<nv::IRuntime>(runtime)->deserializeCudaEngine(data, size);
                     if (e == nullptr) return trt_failed(__func__, "deserializeCudaEngine");
                     *engine = handle<cudann_trt_engine>(e); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_engine_destroy(cudann_trt_engine engine) {
    CUDANN_TRT_GUARD(delete as<nv::ICudaEngine>(engine); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_engine_io_count(cudann_trt_engine engine, int32_t *count) {
    REQUIRE(engine != nullptr && count != nullptr, "engine or count is NULL");
    CUDANN_TRT_GUARD(*count = as<nv::ICudaEngine>(engine)->getNbIOTensors(); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_engine_io_name(cudann_trt_engine engine, int32_t index, const char **name) {
    REQUIRE(engine != nullptr && name != nullptr, "engine or name is NULL");
    CUDANN_TRT_GUARD(const char *n = as<nv::ICudaEngine>(engine)->getIOTensorName(index);
                     if (n == nullptr) return invalid(__func__, "index " + std::to_string(index) + " is not an I/O tensor");
                     *name = n; return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_engine_io_mode(cudann_trt_engine engine, const char *name, cudann_trt_io_mode *mode) {
    REQUIRE(engine != nullptr && name != nullptr && mode != nullptr, "engine, name or mode is NULL");
    CUDANN_TRT_GUARD(
        switch (as<nv::ICudaEngine>(engine)->getTensorIOMode(name)) {
        case nv::TensorIOMode::kINPUT: *mode = CUDANN_TRT_IO_MODE_INPUT; break;
        case nv::TensorIOMode::kOUTPUT: *mode = CUDANN_TRT_IO_MODE_OUTPUT; break;
        default: *mode = CUDANN_TRT_IO_MODE_NONE; break;
        }
        return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_engine_io_dtype(cudann_trt_engine engine, const char *name, cudann_trt_dtype *dtype) {
    REQUIRE(engine != nullptr && name != nullptr && dtype != nullptr, "engine, name or dtype is NULL");
    CUDANN_TRT_GUARD(*dtype = ours(as<nv::ICudaEngine>(engine)->getTensorDataType(name)); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_engine_io_dims(cudann_trt_engine engine, const char *name, int64_t *dims, int32_t *nb_dims) {
    REQUIRE(engine != nullptr && name != nullptr && dims != nullptr && nb_dims != nullptr, "engine, name, dims or nb_dims is NULL");
    CUDANN_TRT_GUARD(nv::Dims d = as<nv::ICudaEngine>(engine)->getTensorShape(name);
                     if (d.nbDims < 0) return invalid(__func__, std::string(name) + " is not an I/O tensor of the engine");
                     for (int32_t i = 0; i < d.nbDims; i++) dims[i] = d.d[i];
                     *nb_dims = d.nbDims; return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_context_create(cudann_trt_engine engine, cudann_trt_context *context) {
    REQUIRE(engine != nullptr && context != nullptr, "engine or context is NULL");
    CUDANN_TRT_GUARD(nv::IExecutionContext *c = as<nv::ICudaEngine>(engine)->createExecutionContext();
                     if (c == nullptr) return trt_failed(__func__, "createExecutionContext");
                     *context = handle<cudann_trt_context>(c); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_context_destroy(cudann_trt_context context) {
    CUDANN_TRT_GUARD(delete as<nv::IExecutionContext>(context); return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_context_set_input_shape(cudann_trt_context context, const char *name, const int64_t *dims,
                                                     int32_t nb_dims) {
    REQUIRE(context != nullptr && name != nullptr, "context or name is NULL");
    nv::Dims d{};
    REQUIRE(to_dims(dims, nb_dims, d), "dims is NULL or nb_dims is outside 0..CUDANN_TRT_MAX_DIMS");
    CUDANN_TRT_GUARD(if (!as<nv::IExecutionContext>(context)->setInputShape(name, d))
                         return trt_failed(__func__, (std::string("setInputShape for ") + name).c_str());
                     return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_context_set_tensor_address(cudann_trt_context context, const char *name, void *address) {
    REQUIRE(context != nullptr && name != nullptr, "context or name is NULL");
    CUDANN_TRT_GUARD(if (!as<nv::IExecutionContext>(context)->setTensorAddress(name, address))
                         return trt_failed(__func__, (std::string("setTensorAddress for ") + name).c_str());
                     return CUDANN_TRT_STATUS_OK;)
}

cudann_trt_status cudann_trt_context_enqueue(cudann_trt_context context, void *stream) {
    REQUIRE(context != nullptr, "context is NULL");
    CUDANN_TRT_GUARD(if (!as<nv::IExecutionContext>(context)->enqueueV3(static_cast<cudaStream_t>(stream)))
                         return trt_failed(__func__, "enqueueV3");
                     return CUDANN_TRT_STATUS_OK;)
}

} // extern "C"
