// DropnetKernels: hand-written CPU kernels for what oneDNN cannot fuse in training.
//
// Plain C, every export prefixed `dnk_`, every function returns a status code and never
// aborts. Work is split over the OpenMP threads of the libgomp that oneDNN already loaded
// (found at run time), so the kernels and oneDNN share one thread pool; without libgomp
// they run on the calling thread.
#ifndef DROPNET_KERNELS_H
#define DROPNET_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes shared by every function.
typedef enum {
  DNK_OK = 0,
  /// A size, block or pointer was invalid (see each function).
  DNK_ERROR_ARGUMENT = 1,
  /// A per-call scratch buffer could not be allocated.
  DNK_ERROR_MEMORY = 2,
} dnk_status;

/// The element type of an activation.
typedef enum {
  /// IEEE single precision.
  DNK_FLOAT32 = 0,
  /// bfloat16: the upper 16 bits of a float32 (rounded to nearest even when written).
  DNK_BFLOAT16 = 1,
} dnk_element_type;

/// The layout of an activation with logical shape [batch, channels, spatial], stored as
/// [batch][channels / block][spatial][block] elements: block 1 is NCHW, block == channels is
/// NHWC, 8 and 16 are oneDNN's nChw8c and nChw16c. `channels` must be a multiple of `block`.
/// The source x is of `source_type`; z, dz and dx of `element_type` (x in float32 with the
/// others in bfloat16 keeps the normalisation exact: x - mean is small next to x where a
/// channel's mean is large next to its spread, and bfloat16 would round x first). Statistics,
/// gamma, beta and the per-channel gradients are float32 whatever the types; sums run in
/// float over short chunks, then in double.
typedef struct {
  int64_t batch;
  int64_t channels;
  int64_t spatial;
  int64_t block;
  dnk_element_type source_type;
  dnk_element_type element_type;
} dnk_blocked_shape;

/// Batch normalization with the batch's statistics, then ReLU6, in one pass over the output:
///   mean[c], variance[c] = mean and biased variance of x over batch and spatial
///   z = min(max(gamma[c] * (x - mean[c]) / sqrt(variance[c] + epsilon) + beta[c], 0), 6)
/// Reads x twice (statistics, normalisation) and writes z once; z may not alias x (the
/// backward pass reads x). `mean` and `variance` receive `channels` floats each.
dnk_status dnk_batch_norm_relu6_forward(const dnk_blocked_shape *shape, const void *x,
                                        const float *gamma, const float *beta, float epsilon,
                                        float *mean, float *variance, void *z,
                                        int32_t thread_count);

/// The backward pass of `dnk_batch_norm_relu6_forward` from dz, the diff of z. With
/// xhat = (x - mean) / sqrt(variance + epsilon), y = gamma * xhat + beta, g = dz where
/// 0 < y < 6 (ReLU6 passes the gradient) else 0, and m = batch * spatial:
///   dbeta[c] = sum g,  dgamma[c] = sum g * xhat,
///   dx = gamma / sqrt(variance + epsilon) * (g - dbeta / m - xhat * dgamma / m)
/// `mean` and `variance` are the forward pass's. Reads x and dz twice, writes dx once; dx may
/// alias dz (each element is read before it is written).
dnk_status dnk_batch_norm_relu6_backward(const dnk_blocked_shape *shape, const void *x,
                                         const void *dz, const float *gamma,
                                         const float *beta, const float *mean,
                                         const float *variance, float epsilon, void *dx,
                                         float *dgamma, float *dbeta, int32_t thread_count);

#ifdef __cplusplus
}
#endif

#endif
