/* trt_recorder_layers.c: the network half of the recording TEST DOUBLE (see trt_recorder.c): inputs, outputs,
 * each layer kind with its output dims computed, and the ONNX parser stand-in. */
#include "trt_recorder.h"

/* ---- network and layers ---- */

cudann_trt_status cudann_trt_network_create(cudann_trt_builder builder, cudann_trt_network *network) {
    BEGIN;
    GET(b, builder, K_BUILDER);
    REQUIRE(network, "network is NULL");
    char extra[48];
    snprintf(extra, sizeof extra, " builder=B%d explicit_batch", b->id);
    return create(K_NETWORK, __func__, (void **)network, extra);
}
cudann_trt_status cudann_trt_network_destroy(cudann_trt_network n) { BEGIN; return destroy(n, K_NETWORK, __func__); }

cudann_trt_status cudann_trt_network_add_input(cudann_trt_network network, const char *name, cudann_trt_dtype dtype,
                                               const int64_t *dims, int32_t nb_dims, cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    REQUIRE(name && output && (dims || nb_dims == 0), "name, dims or output is NULL");
    REQUIRE(nb_dims >= 0 && nb_dims <= CUDANN_TRT_MAX_DIMS, "nb_dims %d is outside 0..%d", nb_dims, CUDANN_TRT_MAX_DIMS);
    REQUIRE(dtype_size(dtype) > 0, "dtype %d is not a cudann_trt_dtype", (int)dtype);
    REQUIRE(n->nio < MAX_IO, "the recorder holds at most %d inputs and outputs", MAX_IO);
    rec_obj *t = new_tensor(nb_dims, dims);
    t->dtype = dtype;
    t->io_mode = CUDANN_TRT_IO_MODE_INPUT;
    snprintf(t->name, sizeof t->name, "%s", name);
    n->io[n->nio++] = t;
    *output = (cudann_trt_tensor)(void *)t;
    append("network_add_input N%d name=%s dtype=%d -> %s\n", n->id, name, (int)dtype, tensor_text(t));
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_network_mark_output(cudann_trt_network network, cudann_trt_tensor tensor, const char *name) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(t, tensor, K_TENSOR);
    REQUIRE(n->nio < MAX_IO, "the recorder holds at most %d inputs and outputs", MAX_IO);
    if (name) snprintf(t->name, sizeof t->name, "%s", name);
    else if (!t->name[0]) snprintf(t->name, sizeof t->name, "T%d", t->id);
    t->io_mode = CUDANN_TRT_IO_MODE_OUTPUT;
    n->io[n->nio++] = t;
    append("network_mark_output N%d %s name=%s\n", n->id, tensor_text(t), t->name);
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_tensor_dims(cudann_trt_tensor tensor, int64_t *dims, int32_t *nb_dims) {
    BEGIN;
    GET(t, tensor, K_TENSOR);
    REQUIRE(dims && nb_dims, "dims or nb_dims is NULL");
    for (int32_t i = 0; i < t->nb; i++) dims[i] = t->d[i];
    *nb_dims = t->nb;
    append("tensor_dims %s\n", tensor_text(t));
    return CUDANN_TRT_STATUS_OK;
}

/* One spatial extent after a window: floor((x + 2p - d(k-1) - 1) / s) + 1; dynamic stays dynamic. */
static int64_t window_out(int64_t x, int64_t k, int64_t s, int64_t p, int64_t d) {
    return x < 0 ? -1 : (x + 2 * p - d * (k - 1) - 1) / s + 1;
}

static cudann_trt_status layer_out(rec_obj *n, rec_obj *t, cudann_trt_tensor *output) {
    (void)n;
    *output = (cudann_trt_tensor)(void *)t;
    return CUDANN_TRT_STATUS_OK;
}

cudann_trt_status cudann_trt_network_add_convolution(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                     int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                                                     int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                                     int64_t dilation_h, int64_t dilation_w, int64_t groups,
                                                     const float *kernel, int64_t kernel_count, const float *bias,
                                                     int64_t bias_count, cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(x, input, K_TENSOR);
    REQUIRE(kernel && output, "kernel or output is NULL");
    REQUIRE(x->nb == 4, "input %s is not NCHW", tensor_text(x));
    REQUIRE(out_channels > 0 && kernel_h > 0 && kernel_w > 0 && stride_h > 0 && stride_w > 0 && dilation_h > 0 &&
                dilation_w > 0 && groups > 0 && pad_h >= 0 && pad_w >= 0,
            "sizes, strides, dilations and groups must be positive and padding non-negative");
    REQUIRE(x->d[1] > 0 && x->d[1] % groups == 0 && out_channels % groups == 0, "channels %lld and %lld are not divisible by groups %lld",
            (long long)x->d[1], (long long)out_channels, (long long)groups);
    REQUIRE(kernel_count == out_channels * (x->d[1] / groups) * kernel_h * kernel_w,
            "kernel_count %lld is not out_channels * (C / groups) * kernel_h * kernel_w = %lld", (long long)kernel_count,
            (long long)(out_channels * (x->d[1] / groups) * kernel_h * kernel_w));
    REQUIRE(bias ? bias_count == out_channels : bias_count == 0, "bias_count %lld must be out_channels (or 0 without bias)", (long long)bias_count);
    int64_t d[4] = {x->d[0], out_channels, window_out(x->d[2], kernel_h, stride_h, pad_h, dilation_h),
                    window_out(x->d[3], kernel_w, stride_w, pad_w, dilation_w)};
    rec_obj *t = new_tensor(4, d);
    append("network_add_convolution N%d name=%s input=%s out_channels=%lld kernel=%lldx%lld stride=%lldx%lld pad=%lldx%lld "
           "dilation=%lldx%lld groups=%lld weights=%lld fnv=%08x bias=%lld fnv=%08x -> %s\n",
           n->id, name_or_null(name), tensor_text(x), (long long)out_channels, (long long)kernel_h, (long long)kernel_w,
           (long long)stride_h, (long long)stride_w, (long long)pad_h, (long long)pad_w, (long long)dilation_h,
           (long long)dilation_w, (long long)groups, (long long)kernel_count, fnv1a(kernel, (size_t)kernel_count * 4),
           (long long)bias_count, bias ? fnv1a(bias, (size_t)bias_count * 4) : 0u, tensor_text(t));
    return layer_out(n, t, output);
}

static const char *const activation_names[] = {"relu", "sigmoid", "tanh", "clip", "hard_sigmoid", "gelu_erf", "leaky_relu"};
static const char *const elementwise_names[] = {"sum", "prod", "max", "min", "sub", "div", "pow"};
static const char *const reduce_names[] = {"sum", "prod", "max", "min", "avg"};
static const char *const matrix_names[] = {"none", "transpose", "vector"};
static const char *const unary_names[] = {"exp", "log", "sqrt", "recip", "abs", "neg", "erf"};
#define IN_ENUM(v, names) ((int)(v) >= 0 && (int)(v) < (int)(sizeof names / sizeof names[0]))

cudann_trt_status cudann_trt_network_add_activation(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                    cudann_trt_activation kind, float alpha, float beta,
                                                    cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(x, input, K_TENSOR);
    REQUIRE(output, "output is NULL");
    REQUIRE(IN_ENUM(kind, activation_names), "kind %d is not a cudann_trt_activation", (int)kind);
    rec_obj *t = new_tensor(x->nb, x->d);
    append("network_add_activation N%d name=%s input=%s kind=%s alpha=%g beta=%g -> %s\n", n->id, name_or_null(name),
           tensor_text(x), activation_names[kind], alpha, beta, tensor_text(t));
    return layer_out(n, t, output);
}

/* Broadcast two extents: equal, or one of them 1; a dynamic one wins over 1. */
static int broadcast(int64_t a, int64_t b, int64_t *out) {
    if (a == b) *out = a;
    else if (a == 1) *out = b;
    else if (b == 1) *out = a;
    else if (a < 0 || b < 0) *out = -1;
    else return 0;
    return 1;
}

cudann_trt_status cudann_trt_network_add_elementwise(cudann_trt_network network, const char *name, cudann_trt_tensor a,
                                                     cudann_trt_tensor b, cudann_trt_elementwise op, cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(x, a, K_TENSOR);
    GET(y, b, K_TENSOR);
    REQUIRE(output, "output is NULL");
    REQUIRE(IN_ENUM(op, elementwise_names), "op %d is not a cudann_trt_elementwise", (int)op);
    REQUIRE(x->nb == y->nb, "ranks differ: %s and %s", tensor_text(x), tensor_text(y));
    int64_t d[CUDANN_TRT_MAX_DIMS];
    for (int32_t i = 0; i < x->nb; i++)
        REQUIRE(broadcast(x->d[i], y->d[i], &d[i]), "%s and %s do not broadcast on axis %d", tensor_text(x), tensor_text(y), i);
    rec_obj *t = new_tensor(x->nb, d);
    append("network_add_elementwise N%d name=%s a=%s b=%s op=%s -> %s\n", n->id, name_or_null(name), tensor_text(x),
           tensor_text(y), elementwise_names[op], tensor_text(t));
    return layer_out(n, t, output);
}

cudann_trt_status cudann_trt_network_add_pooling(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                 cudann_trt_pooling kind, int64_t window_h, int64_t window_w,
                                                 int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w,
                                                 int32_t count_include_pad, cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(x, input, K_TENSOR);
    REQUIRE(output, "output is NULL");
    REQUIRE(kind == CUDANN_TRT_POOLING_MAX || kind == CUDANN_TRT_POOLING_AVERAGE, "kind %d is not a cudann_trt_pooling", (int)kind);
    REQUIRE(x->nb == 4, "input %s is not NCHW", tensor_text(x));
    REQUIRE(window_h > 0 && window_w > 0 && stride_h > 0 && stride_w > 0 && pad_h >= 0 && pad_w >= 0,
            "windows and strides must be positive and padding non-negative");
    int64_t d[4] = {x->d[0], x->d[1], window_out(x->d[2], window_h, stride_h, pad_h, 1), window_out(x->d[3], window_w, stride_w, pad_w, 1)};
    rec_obj *t = new_tensor(4, d);
    append("network_add_pooling N%d name=%s input=%s kind=%s window=%lldx%lld stride=%lldx%lld pad=%lldx%lld count_include_pad=%d -> %s\n",
           n->id, name_or_null(name), tensor_text(x), kind == CUDANN_TRT_POOLING_MAX ? "max" : "avg", (long long)window_h,
           (long long)window_w, (long long)stride_h, (long long)stride_w, (long long)pad_h, (long long)pad_w, count_include_pad,
           tensor_text(t));
    return layer_out(n, t, output);
}

cudann_trt_status cudann_trt_network_add_reduce(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                cudann_trt_reduce op, uint32_t axes_mask, int32_t keep_dims,
                                                cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(x, input, K_TENSOR);
    REQUIRE(output, "output is NULL");
    REQUIRE(IN_ENUM(op, reduce_names), "op %d is not a cudann_trt_reduce", (int)op);
    REQUIRE(axes_mask != 0 && axes_mask >> x->nb == 0, "axes_mask 0x%x names no axis, or one outside %s", axes_mask, tensor_text(x));
    int64_t d[CUDANN_TRT_MAX_DIMS];
    int32_t nb = 0;
    for (int32_t i = 0; i < x->nb; i++) {
        if (!(axes_mask >> i & 1)) d[nb++] = x->d[i];
        else if (keep_dims) d[nb++] = 1;
    }
    rec_obj *t = new_tensor(nb, d);
    append("network_add_reduce N%d name=%s input=%s op=%s axes=0x%x keep_dims=%d -> %s\n", n->id, name_or_null(name),
           tensor_text(x), reduce_names[op], axes_mask, keep_dims, tensor_text(t));
    return layer_out(n, t, output);
}

cudann_trt_status cudann_trt_network_add_matmul(cudann_trt_network network, const char *name, cudann_trt_tensor a,
                                                cudann_trt_matrix_op op_a, cudann_trt_tensor b, cudann_trt_matrix_op op_b,
                                                cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(x, a, K_TENSOR);
    GET(y, b, K_TENSOR);
    REQUIRE(output, "output is NULL");
    REQUIRE(IN_ENUM(op_a, matrix_names) && IN_ENUM(op_b, matrix_names), "op_a or op_b is not a cudann_trt_matrix_op");
    /* As TensorRT documents it: a VECTOR operand [.., K] is a [.., 1, K] (a) or [.., K, 1] (b) matrix whose unit
     * axis is then dropped from the result. */
    int64_t da[CUDANN_TRT_MAX_DIMS + 1], db[CUDANN_TRT_MAX_DIMS + 1];
    int32_t ra = x->nb, rb = y->nb;
    memcpy(da, x->d, sizeof x->d);
    memcpy(db, y->d, sizeof y->d);
    if (op_a == CUDANN_TRT_MATRIX_OP_VECTOR) { da[ra] = da[ra - 1]; da[ra - 1] = 1; ra++; }
    if (op_b == CUDANN_TRT_MATRIX_OP_VECTOR) { db[rb] = 1; rb++; }
    REQUIRE(ra == rb && ra >= 2, "ranks of %s and %s do not match for a matrix multiply", tensor_text(x), tensor_text(y));
    int64_t m = op_a == CUDANN_TRT_MATRIX_OP_TRANSPOSE ? da[ra - 1] : da[ra - 2];
    int64_t ka = op_a == CUDANN_TRT_MATRIX_OP_TRANSPOSE ? da[ra - 2] : da[ra - 1];
    int64_t kb = op_b == CUDANN_TRT_MATRIX_OP_TRANSPOSE ? db[rb - 1] : db[rb - 2];
    int64_t nn = op_b == CUDANN_TRT_MATRIX_OP_TRANSPOSE ? db[rb - 2] : db[rb - 1];
    REQUIRE(ka == kb || ka < 0 || kb < 0, "inner extents differ: %lld and %lld (%s, %s)", (long long)ka, (long long)kb, tensor_text(x), tensor_text(y));
    int64_t d[CUDANN_TRT_MAX_DIMS + 1];
    int32_t nb = 0;
    for (int32_t i = 0; i < ra - 2; i++, nb++)
        REQUIRE(broadcast(da[i], db[i], &d[nb]), "batch axis %d of %s and %s does not broadcast", i, tensor_text(x), tensor_text(y));
    if (op_a != CUDANN_TRT_MATRIX_OP_VECTOR) d[nb++] = m;
    if (op_b != CUDANN_TRT_MATRIX_OP_VECTOR) d[nb++] = nn;
    rec_obj *t = new_tensor(nb, d);
    append("network_add_matmul N%d name=%s a=%s op_a=%s b=%s op_b=%s -> %s\n", n->id, name_or_null(name), tensor_text(x),
           matrix_names[op_a], tensor_text(y), matrix_names[op_b], tensor_text(t));
    return layer_out(n, t, output);
}

cudann_trt_status cudann_trt_network_add_constant(cudann_trt_network network, const char *name, cudann_trt_dtype dtype,
                                                  const int64_t *dims, int32_t nb_dims, const void *values, int64_t count,
                                                  cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    REQUIRE(values && output && (dims || nb_dims == 0), "values, dims or output is NULL");
    REQUIRE(nb_dims >= 0 && nb_dims <= CUDANN_TRT_MAX_DIMS, "nb_dims %d is outside 0..%d", nb_dims, CUDANN_TRT_MAX_DIMS);
    REQUIRE(dtype_size(dtype) > 0, "dtype %d is not a cudann_trt_dtype", (int)dtype);
    int64_t volume = 1;
    for (int32_t i = 0; i < nb_dims; i++) volume *= dims[i];
    REQUIRE(volume == count, "count %lld is not the product of dims %s", (long long)count, dims_text(nb_dims, dims));
    rec_obj *t = new_tensor(nb_dims, dims);
    t->dtype = dtype;
    append("network_add_constant N%d name=%s dtype=%d count=%lld fnv=%08x -> %s\n", n->id, name_or_null(name), (int)dtype,
           (long long)count, fnv1a(values, (size_t)count * dtype_size(dtype)), tensor_text(t));
    return layer_out(n, t, output);
}

cudann_trt_status cudann_trt_network_add_softmax(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                 int32_t axis, cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(x, input, K_TENSOR);
    REQUIRE(output, "output is NULL");
    int32_t a = axis < 0 ? axis + x->nb : axis;
    REQUIRE(a >= 0 && a < x->nb, "axis %d is outside %s", axis, tensor_text(x));
    rec_obj *t = new_tensor(x->nb, x->d);
    append("network_add_softmax N%d name=%s input=%s axis=%d -> %s\n", n->id, name_or_null(name), tensor_text(x), a, tensor_text(t));
    return layer_out(n, t, output);
}

cudann_trt_status cudann_trt_network_add_shuffle(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                 const int32_t *first_transpose, int32_t transpose_nb,
                                                 const int64_t *reshape_dims, int32_t reshape_nb, cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(x, input, K_TENSOR);
    REQUIRE(output, "output is NULL");
    int64_t d[CUDANN_TRT_MAX_DIMS];
    char perm[64] = "none";
    memcpy(d, x->d, sizeof d);
    if (first_transpose) {
        REQUIRE(transpose_nb == x->nb, "transpose_nb %d is not the rank of %s", transpose_nb, tensor_text(x));
        size_t k = 0;
        for (int32_t i = 0; i < transpose_nb; i++) {
            REQUIRE(first_transpose[i] >= 0 && first_transpose[i] < x->nb, "first_transpose[%d] = %d is outside the rank", i, first_transpose[i]);
            d[i] = x->d[first_transpose[i]];
            k += (size_t)snprintf(perm + k, sizeof perm - k, i ? ",%d" : "%d", first_transpose[i]);
        }
    }
    int32_t nb = x->nb;
    if (reshape_dims) {
        REQUIRE(reshape_nb >= 0 && reshape_nb <= CUDANN_TRT_MAX_DIMS, "reshape_nb %d is outside 0..%d", reshape_nb, CUDANN_TRT_MAX_DIMS);
        int64_t volume = 1, known = 1, r[CUDANN_TRT_MAX_DIMS];
        int infer = -1, dynamic = 0;
        for (int32_t i = 0; i < nb; i++) { if (d[i] < 0) dynamic = 1; else volume *= d[i]; }
        for (int32_t i = 0; i < reshape_nb; i++) {
            r[i] = reshape_dims[i] == 0 ? (i < nb ? d[i] : -2) : reshape_dims[i];
            REQUIRE(r[i] != -2, "reshape_dims[%d] = 0 copies an axis %s does not have", i, tensor_text(x));
            if (reshape_dims[i] == -1) { REQUIRE(infer < 0, "more than one -1 in reshape_dims"); infer = i; }
            else if (r[i] < 0) dynamic = 1; /* a copied dynamic axis */
            else known *= r[i];
        }
        if (infer >= 0) r[infer] = dynamic ? -1 : volume / known;
        else REQUIRE(dynamic || known == volume, "reshape %s has %lld elements, %s has %lld", dims_text(reshape_nb, reshape_dims),
                     (long long)known, tensor_text(x), (long long)volume);
        memcpy(d, r, sizeof r);
        nb = reshape_nb;
    }
    rec_obj *t = new_tensor(nb, d);
    append("network_add_shuffle N%d name=%s input=%s transpose=%s reshape=%s -> %s\n", n->id, name_or_null(name), tensor_text(x),
           perm, reshape_dims ? dims_text(reshape_nb, reshape_dims) : "none", tensor_text(t));
    return layer_out(n, t, output);
}

cudann_trt_status cudann_trt_network_add_concatenation(cudann_trt_network network, const char *name, const cudann_trt_tensor *inputs,
                                                       int32_t count, int32_t axis, cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    REQUIRE(inputs && output && count > 0, "inputs or output is NULL, or count < 1");
    GET(first, inputs[0], K_TENSOR);
    int32_t a = axis < 0 ? axis + first->nb : axis;
    REQUIRE(a >= 0 && a < first->nb, "axis %d is outside %s", axis, tensor_text(first));
    int64_t d[CUDANN_TRT_MAX_DIMS];
    memcpy(d, first->d, sizeof d);
    char list[400];
    size_t k = (size_t)snprintf(list, sizeof list, "%s", tensor_text(first));
    for (int32_t i = 1; i < count; i++) {
        GET(x, inputs[i], K_TENSOR);
        REQUIRE(x->nb == first->nb, "ranks differ: %s and %s", tensor_text(first), tensor_text(x));
        for (int32_t j = 0; j < x->nb; j++)
            REQUIRE(j == a || x->d[j] == first->d[j], "%s and %s differ on axis %d", tensor_text(first), tensor_text(x), j);
        d[a] = d[a] < 0 || x->d[a] < 0 ? -1 : d[a] + x->d[a];
        if (k < sizeof list) k += (size_t)snprintf(list + k, sizeof list - k, ",%s", tensor_text(x));
    }
    rec_obj *t = new_tensor(first->nb, d);
    append("network_add_concatenation N%d name=%s inputs=%s axis=%d -> %s\n", n->id, name_or_null(name), list, a, tensor_text(t));
    return layer_out(n, t, output);
}

cudann_trt_status cudann_trt_network_add_unary(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                               cudann_trt_unary op, cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(x, input, K_TENSOR);
    REQUIRE(output, "output is NULL");
    REQUIRE(IN_ENUM(op, unary_names), "op %d is not a cudann_trt_unary", (int)op);
    rec_obj *t = new_tensor(x->nb, x->d);
    append("network_add_unary N%d name=%s input=%s op=%s -> %s\n", n->id, name_or_null(name), tensor_text(x), unary_names[op], tensor_text(t));
    return layer_out(n, t, output);
}

cudann_trt_status cudann_trt_network_add_normalization(cudann_trt_network network, const char *name, cudann_trt_tensor input,
                                                       cudann_trt_tensor scale, cudann_trt_tensor bias, uint32_t axes_mask,
                                                       float epsilon, cudann_trt_tensor *output) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(x, input, K_TENSOR);
    GET(s, scale, K_TENSOR);
    GET(b, bias, K_TENSOR);
    REQUIRE(output, "output is NULL");
    REQUIRE(axes_mask != 0 && axes_mask >> x->nb == 0, "axes_mask 0x%x names no axis, or one outside %s", axes_mask, tensor_text(x));
    REQUIRE(s->nb == x->nb && b->nb == x->nb, "scale %s and bias %s must have the rank of %s", tensor_text(s), tensor_text(b), tensor_text(x));
    rec_obj *t = new_tensor(x->nb, x->d);
    append("network_add_normalization N%d name=%s input=%s scale=%s bias=%s axes=0x%x epsilon=%g -> %s\n", n->id, name_or_null(name),
           tensor_text(x), tensor_text(s), tensor_text(b), axes_mask, epsilon, tensor_text(t));
    return layer_out(n, t, output);
}

/* ---- ONNX parser: accepts any bytes that start with a protobuf-looking field (0x08, ir_version) ---- */

cudann_trt_status cudann_trt_parser_create(cudann_trt_network network, cudann_trt_logger logger, cudann_trt_parser *parser) {
    BEGIN;
    GET(n, network, K_NETWORK);
    GET(l, logger, K_LOGGER);
    REQUIRE(parser, "parser is NULL");
    char extra[48];
    snprintf(extra, sizeof extra, " N%d L%d", n->id, l->id);
    return create(K_PARSER, __func__, (void **)parser, extra);
}
cudann_trt_status cudann_trt_parser_destroy(cudann_trt_parser p) { BEGIN; return destroy(p, K_PARSER, __func__); }

cudann_trt_status cudann_trt_parser_parse(cudann_trt_parser parser, const void *data, size_t size) {
    BEGIN;
    GET(p, parser, K_PARSER);
    REQUIRE(data && size > 0, "data is NULL or size is 0");
    append("parser_parse O%d bytes=%zu fnv=%08x\n", p->id, size, fnv1a(data, size));
    if (((const unsigned char *)data)[0] != 0x08)
        return error(CUDANN_TRT_STATUS_PARSE_FAILED, __func__, "node -1 (): not an ONNX ModelProto (recorder check)");
    return CUDANN_TRT_STATUS_OK;
}

