// Fused batch normalization (batch statistics) + ReLU6, forward and backward.
//
// Why: in fine-tuning every MobileNet layer runs conv -> BN -> ReLU6 in training mode, and
// oneDNN 2.6 cannot fuse BN and ReLU6 when training. Unfused, the pair moves ~56 bytes per
// activation element per step (BN forward reads x twice and writes y, ReLU6 reads y and writes
// z; their backward passes read and write as much again); fused, 32: forward reads x twice
// and writes z, backward reads x and dz twice and writes dx, recomputing ReLU6's mask from x.
// Both are memory-bound, so bytes are time.
//
// Layout (see dnk_blocked_shape): [batch][channel_blocks][spatial][block]. Statistics are
// reduced per channel block (one thread owns a block, no atomics); the element-wise passes
// split batch x channel_blocks slabs between threads.
#define _GNU_SOURCE
#include "DropnetKernels.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Threads: libgomp's pool, found at run time

typedef void (*dnk_gomp_parallel_function)(void (*)(void *), void *, unsigned, unsigned);
typedef int (*dnk_omp_query_function)(void);

static dnk_gomp_parallel_function dnk_gomp_parallel;
static dnk_omp_query_function dnk_omp_get_thread_num;
static dnk_omp_query_function dnk_omp_get_num_threads;
static pthread_once_t dnk_threads_once = PTHREAD_ONCE_INIT;

static void dnk_resolve_threads(void) {
  // POSIX's way from an object pointer to a function pointer.
  void *parallel = dlsym(RTLD_DEFAULT, "GOMP_parallel");
  void *thread_num = dlsym(RTLD_DEFAULT, "omp_get_thread_num");
  void *num_threads = dlsym(RTLD_DEFAULT, "omp_get_num_threads");
  if (parallel == NULL || thread_num == NULL || num_threads == NULL) return;
  memcpy(&dnk_gomp_parallel, &parallel, sizeof parallel);
  memcpy(&dnk_omp_get_thread_num, &thread_num, sizeof thread_num);
  memcpy(&dnk_omp_get_num_threads, &num_threads, sizeof num_threads);
}

/// Work over units [begin, end) with a context.
typedef void (*dnk_range_body)(const void *context, int64_t begin, int64_t end);

typedef struct {
  dnk_range_body body;
  const void *context;
  int64_t unit_count;
} dnk_job;

static void dnk_run_share(void *data) {
  const dnk_job *job = data;
  int64_t thread = dnk_omp_get_thread_num();
  int64_t threads = dnk_omp_get_num_threads();
  int64_t begin = job->unit_count * thread / threads;
  int64_t end = job->unit_count * (thread + 1) / threads;
  if (begin < end) job->body(job->context, begin, end);
}

/// Splits `unit_count` units evenly over up to `thread_count` threads of the pool.
static void dnk_parallel_for(int64_t unit_count, int32_t thread_count, dnk_range_body body,
                             const void *context) {
  pthread_once(&dnk_threads_once, dnk_resolve_threads);
  int64_t threads = thread_count < unit_count ? thread_count : unit_count;
  if (threads <= 1 || dnk_gomp_parallel == NULL) {
    body(context, 0, unit_count);
    return;
  }
  dnk_job job = {body, context, unit_count};
  dnk_gomp_parallel(dnk_run_share, &job, (unsigned)threads, 0);
}

// MARK: - Shared pieces

/// Eight floats: one 256-bit register where the machine has AVX, two SSE registers elsewhere
/// (the kernels are memory-bound: measured, AVX2 code is no faster here). Aligned to 4 so
/// loads and stores need no alignment. The helpers that pass them by value are static and
/// always inlined, so the AVX-versus-SSE calling convention clang warns about never applies.
#pragma clang diagnostic ignored "-Wpsabi"
typedef float dnk_floats __attribute__((vector_size(32), aligned(4)));
typedef int32_t dnk_mask __attribute__((vector_size(32), aligned(4)));
#define DNK_LANES 8
/// Positions summed in float before the sums move into double: short float sums keep their
/// rounding error near 1e-6 relative whatever the tensor's size.
#define DNK_CHUNK 64

static inline __attribute__((always_inline)) dnk_floats
dnk_splat(float value) {
  return (dnk_floats){value, value, value, value, value, value, value, value};
}

typedef uint32_t dnk_bits __attribute__((vector_size(32), aligned(4)));
typedef uint16_t dnk_halves __attribute__((vector_size(16), aligned(2)));

/// Eight elements at `base[index]`, float32 or bfloat16 (`bf16`), as floats.
static inline __attribute__((always_inline)) dnk_floats
dnk_load(const void *base, int64_t index, int bf16) {
  if (bf16) {
    dnk_halves halves = *(const dnk_halves *)((const uint16_t *)base + index);
    return (dnk_floats)(__builtin_convertvector(halves, dnk_bits) << 16);
  }
  return *(const dnk_floats *)((const float *)base + index);
}

/// Stores eight floats at `base[index]` as float32, or as bfloat16 rounded to nearest even.
static inline __attribute__((always_inline)) void
dnk_store(void *base, int64_t index, dnk_floats value, int bf16) {
  if (bf16) {
    dnk_bits bits = (dnk_bits)value;
    bits += 0x7FFF + ((bits >> 16) & 1);
    *(dnk_halves *)((uint16_t *)base + index) = __builtin_convertvector(bits >> 16, dnk_halves);
    return;
  }
  *(dnk_floats *)((float *)base + index) = value;
}

/// One element at `base[index]` as a float.
static inline float dnk_load1(const void *base, int64_t index, int bf16) {
  if (bf16) {
    uint32_t bits = (uint32_t)((const uint16_t *)base)[index] << 16;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
  }
  return ((const float *)base)[index];
}

/// Stores one float at `base[index]` (bfloat16 rounded to nearest even).
static inline void dnk_store1(void *base, int64_t index, float value, int bf16) {
  if (bf16) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    bits += 0x7FFF + ((bits >> 16) & 1);
    ((uint16_t *)base)[index] = (uint16_t)(bits >> 16);
    return;
  }
  ((float *)base)[index] = value;
}

static inline __attribute__((always_inline)) dnk_floats
dnk_relu6_lanes(dnk_floats value) {
  dnk_floats positive = __builtin_elementwise_max(value, dnk_splat(0));
  return __builtin_elementwise_min(positive, dnk_splat(6));
}

/// `diff` where 0 < y < 6 (ReLU6 passed its input), else 0.
static inline __attribute__((always_inline)) dnk_floats
dnk_pass_lanes(dnk_floats y, dnk_floats diff) {
  dnk_mask inside = (y > dnk_splat(0)) & (y < dnk_splat(6));
  return (dnk_floats)((dnk_mask)diff & inside);
}

static inline float dnk_relu6(float value) {
  return value < 0.0f ? 0.0f : (value > 6.0f ? 6.0f : value);
}

static inline float dnk_pass(float y, float diff) {
  return (y > 0.0f && y < 6.0f) ? diff : 0.0f;
}

/// y = x * scale + shift is the normalised value before ReLU6. Both passes derive it from the
/// float statistics the same way, so the backward pass's ReLU6 mask matches the forward's.
static inline void dnk_affine(float gamma, float beta, float mean, float variance, float epsilon,
                              float *scale, float *shift) {
  double gain = gamma / sqrt((double)variance + epsilon);
  *scale = (float)gain;
  *shift = (float)(beta - mean * gain);
}

static int dnk_valid(const dnk_blocked_shape *shape) {
  return shape != NULL && shape->batch > 0 && shape->channels > 0 && shape->spatial > 0 &&
         shape->block > 0 && shape->channels % shape->block == 0 &&
         (shape->element_type == DNK_FLOAT32 || shape->element_type == DNK_BFLOAT16) &&
         (shape->source_type == DNK_FLOAT32 || shape->source_type == DNK_BFLOAT16);
}

typedef struct {
  const dnk_blocked_shape *shape;
  // Activations: x of the shape's source type (`x_bf16`), the others of its element type
  // (`bf16`).
  const void *x;
  const void *dz;
  int x_bf16;
  int bf16;
  const float *gamma;
  const float *beta;
  float epsilon;
  // The batch statistics: the forward pass writes them, the backward pass reads them.
  float *batch_mean;
  float *batch_variance;
  const float *mean;
  const float *variance;
  // Per channel: y = x * scale + shift (the normalised value before ReLU6).
  float *scale;
  float *shift;
  // Backward per channel: dx = g * data_gain - x * x_gain + offset.
  float *data_gain;
  float *x_gain;
  float *offset;
  float *dgamma;
  float *dbeta;
  void *output;
} dnk_context;

/// Channel `first + lane` of a group: groups are 8 channels of one block when the block is a
/// multiple of 8 (vector code), else single channels.
static inline int64_t dnk_group_width(int64_t block) {
  return block % DNK_LANES == 0 ? DNK_LANES : 1;
}

// MARK: - Forward

/// Sums of (x - origin) and its square over every image and position of one channel group,
/// whose element at image 0, position 0 is `context->x[offset]`. Subtracting a sample of each
/// channel (`origin`) keeps E[x^2] - E[x]^2 accurate when the mean is large next to the spread.
static void dnk_moments(const dnk_context *context, int64_t offset, int64_t width,
                        const float *origin, double *sum, double *square_sum) {
  const dnk_blocked_shape *shape = context->shape;
  int64_t image_stride = shape->channels * shape->spatial;
  int64_t block = shape->block;
  int x_bf16 = context->x_bf16;
  for (int64_t image = 0; image < shape->batch; image++) {
    int64_t slab = offset + image * image_stride;
    for (int64_t start = 0; start < shape->spatial; start += DNK_CHUNK) {
      int64_t stop = start + DNK_CHUNK < shape->spatial ? start + DNK_CHUNK : shape->spatial;
      if (width == DNK_LANES) {
        dnk_floats centre = *(const dnk_floats *)origin;
        dnk_floats partial = dnk_splat(0);
        dnk_floats partial_square = dnk_splat(0);
        for (int64_t position = start; position < stop; position++) {
          dnk_floats centred = dnk_load(context->x, slab + position * block, x_bf16) - centre;
          partial += centred;
          partial_square += centred * centred;
        }
        for (int lane = 0; lane < DNK_LANES; lane++) {
          sum[lane] += partial[lane];
          square_sum[lane] += partial_square[lane];
        }
      } else {
        float partial = 0;
        float partial_square = 0;
        for (int64_t position = start; position < stop; position++) {
          float centred = dnk_load1(context->x, slab + position * block, x_bf16) - origin[0];
          partial += centred;
          partial_square += centred * centred;
        }
        sum[0] += partial;
        square_sum[0] += partial_square;
      }
    }
  }
}

static void dnk_forward_statistics(const void *raw, int64_t begin, int64_t end) {
  const dnk_context *context = raw;
  const dnk_blocked_shape *shape = context->shape;
  int64_t block = shape->block;
  int64_t width = dnk_group_width(block);
  double count = (double)(shape->batch * shape->spatial);
  for (int64_t channel_block = begin; channel_block < end; channel_block++) {
    for (int64_t first = 0; first < block; first += width) {
      int64_t offset = channel_block * shape->spatial * block + first;
      float origin[DNK_LANES];
      double sum[DNK_LANES] = {0};
      double square_sum[DNK_LANES] = {0};
      for (int64_t lane = 0; lane < width; lane++) {
        origin[lane] = dnk_load1(context->x, offset + lane, context->x_bf16);
      }
      dnk_moments(context, offset, width, origin, sum, square_sum);
      for (int64_t lane = 0; lane < width; lane++) {
        int64_t channel = channel_block * block + first + lane;
        double shift = sum[lane] / count;
        double variance = square_sum[lane] / count - shift * shift;
        if (variance < 0) variance = 0;
        float mean = (float)(origin[lane] + shift);
        context->batch_mean[channel] = mean;
        context->batch_variance[channel] = (float)variance;
        dnk_affine(context->gamma[channel], context->beta[channel], mean, (float)variance,
                   context->epsilon, &context->scale[channel], &context->shift[channel]);
      }
    }
  }
}

/// z = relu6(x * scale + shift) over the [spatial][block] slab starting at element `slab`.
static void dnk_normalize_slab(const dnk_context *context, int64_t slab, const float *scale,
                               const float *shift) {
  int64_t spatial = context->shape->spatial;
  int64_t block = context->shape->block;
  int bf16 = context->bf16;
  int x_bf16 = context->x_bf16;
  const void *x = context->x;
  void *z = context->output;
  if (block % DNK_LANES != 0) {
    for (int64_t position = 0; position < spatial; position++) {
      for (int64_t lane = 0; lane < block; lane++) {
        int64_t index = slab + position * block + lane;
        dnk_store1(z, index, dnk_relu6(dnk_load1(x, index, x_bf16) * scale[lane] + shift[lane]),
                   bf16);
      }
    }
    return;
  }
  for (int64_t position = 0; position < spatial; position++) {
    for (int64_t first = 0; first < block; first += DNK_LANES) {
      int64_t index = slab + position * block + first;
      dnk_floats value = dnk_load(x, index, x_bf16) * *(const dnk_floats *)(scale + first) +
                         *(const dnk_floats *)(shift + first);
      dnk_store(z, index, dnk_relu6_lanes(value), bf16);
    }
  }
}

static void dnk_forward_normalize(const void *raw, int64_t begin, int64_t end) {
  const dnk_context *context = raw;
  const dnk_blocked_shape *shape = context->shape;
  int64_t block = shape->block;
  int64_t channel_blocks = shape->channels / block;
  int64_t slab_size = shape->spatial * block;
  for (int64_t unit = begin; unit < end; unit++) {
    int64_t first_channel = (unit % channel_blocks) * block;
    dnk_normalize_slab(context, unit * slab_size, context->scale + first_channel,
                       context->shift + first_channel);
  }
}

dnk_status dnk_batch_norm_relu6_forward(const dnk_blocked_shape *shape, const void *x,
                                        const float *gamma, const float *beta, float epsilon,
                                        float *mean, float *variance, void *z,
                                        int32_t thread_count) {
  if (!dnk_valid(shape) || x == NULL || gamma == NULL || beta == NULL || mean == NULL ||
      variance == NULL || z == NULL || z == x || !(epsilon >= 0)) {
    return DNK_ERROR_ARGUMENT;
  }
  float *scratch = malloc(2 * (size_t)shape->channels * sizeof(float));
  if (scratch == NULL) return DNK_ERROR_MEMORY;
  dnk_context context = {0};
  context.shape = shape;
  context.x = x;
  context.x_bf16 = shape->source_type == DNK_BFLOAT16;
  context.bf16 = shape->element_type == DNK_BFLOAT16;
  context.gamma = gamma;
  context.beta = beta;
  context.epsilon = epsilon;
  context.batch_mean = mean;
  context.batch_variance = variance;
  context.scale = scratch;
  context.shift = scratch + shape->channels;
  context.output = z;
  int64_t channel_blocks = shape->channels / shape->block;
  dnk_parallel_for(channel_blocks, thread_count, dnk_forward_statistics, &context);
  dnk_parallel_for(shape->batch * channel_blocks, thread_count, dnk_forward_normalize,
                   &context);
  free(scratch);
  return DNK_OK;
}

// MARK: - Backward

/// Sums of g and g * (x - mean) over every image and position of one channel group, with
/// g = dz where ReLU6 passed its input, else 0; `offset` locates the group at image 0.
static void dnk_gradient_sums(const dnk_context *context, int64_t offset, int64_t width,
                              int64_t first_channel, double *sum, double *centred_sum) {
  const dnk_blocked_shape *shape = context->shape;
  int64_t image_stride = shape->channels * shape->spatial;
  int64_t block = shape->block;
  const float *scale = context->scale + first_channel;
  const float *shift = context->shift + first_channel;
  const float *mean = context->mean + first_channel;
  int bf16 = context->bf16;
  int x_bf16 = context->x_bf16;
  for (int64_t image = 0; image < shape->batch; image++) {
    int64_t slab = offset + image * image_stride;
    for (int64_t start = 0; start < shape->spatial; start += DNK_CHUNK) {
      int64_t stop = start + DNK_CHUNK < shape->spatial ? start + DNK_CHUNK : shape->spatial;
      if (width == DNK_LANES) {
        dnk_floats gain = *(const dnk_floats *)scale;
        dnk_floats bias = *(const dnk_floats *)shift;
        dnk_floats centre = *(const dnk_floats *)mean;
        dnk_floats partial = dnk_splat(0);
        dnk_floats partial_centred = dnk_splat(0);
        for (int64_t position = start; position < stop; position++) {
          dnk_floats value = dnk_load(context->x, slab + position * block, x_bf16);
          dnk_floats diff = dnk_load(context->dz, slab + position * block, bf16);
          dnk_floats g = dnk_pass_lanes(value * gain + bias, diff);
          partial += g;
          partial_centred += g * (value - centre);
        }
        for (int lane = 0; lane < DNK_LANES; lane++) {
          sum[lane] += partial[lane];
          centred_sum[lane] += partial_centred[lane];
        }
      } else {
        float partial = 0;
        float partial_centred = 0;
        for (int64_t position = start; position < stop; position++) {
          float value = dnk_load1(context->x, slab + position * block, x_bf16);
          float g = dnk_pass(value * scale[0] + shift[0],
                             dnk_load1(context->dz, slab + position * block, bf16));
          partial += g;
          partial_centred += g * (value - mean[0]);
        }
        sum[0] += partial;
        centred_sum[0] += partial_centred;
      }
    }
  }
}

static void dnk_backward_sums(const void *raw, int64_t begin, int64_t end) {
  const dnk_context *context = raw;
  const dnk_blocked_shape *shape = context->shape;
  int64_t block = shape->block;
  int64_t width = dnk_group_width(block);
  double count = (double)(shape->batch * shape->spatial);
  for (int64_t channel_block = begin; channel_block < end; channel_block++) {
    for (int64_t first = 0; first < block; first += width) {
      int64_t first_channel = channel_block * block + first;
      double sum[DNK_LANES] = {0};
      double centred_sum[DNK_LANES] = {0};
      dnk_gradient_sums(context, channel_block * shape->spatial * block + first, width,
                        first_channel, sum, centred_sum);
      for (int64_t lane = 0; lane < width; lane++) {
        int64_t channel = first_channel + lane;
        double inverse_deviation =
            1.0 / sqrt((double)context->variance[channel] + context->epsilon);
        double dbeta = sum[lane];
        double dgamma = centred_sum[lane] * inverse_deviation;
        double gain = context->gamma[channel] * inverse_deviation;
        // dx = gain * (g - dbeta / m - (x - mean) * inverse_deviation * dgamma / m)
        double x_gain = gain * inverse_deviation * dgamma / count;
        context->dbeta[channel] = (float)dbeta;
        context->dgamma[channel] = (float)dgamma;
        context->data_gain[channel] = (float)gain;
        context->x_gain[channel] = (float)x_gain;
        context->offset[channel] =
            (float)(x_gain * context->mean[channel] - gain * dbeta / count);
      }
    }
  }
}

/// dx = g * data_gain - x * x_gain + offset over the [spatial][block] slab starting at
/// element `slab`.
static void dnk_diff_slab(const dnk_context *context, int64_t slab, int64_t first_channel) {
  const dnk_blocked_shape *shape = context->shape;
  int64_t block = shape->block;
  int bf16 = context->bf16;
  int x_bf16 = context->x_bf16;
  const void *x = context->x;
  const void *dz = context->dz;
  void *dx = context->output;
  const float *scale = context->scale + first_channel;
  const float *shift = context->shift + first_channel;
  const float *data_gain = context->data_gain + first_channel;
  const float *x_gain = context->x_gain + first_channel;
  const float *offset = context->offset + first_channel;
  if (block % DNK_LANES != 0) {
    for (int64_t position = 0; position < shape->spatial; position++) {
      for (int64_t lane = 0; lane < block; lane++) {
        int64_t index = slab + position * block + lane;
        float value = dnk_load1(x, index, x_bf16);
        float g = dnk_pass(value * scale[lane] + shift[lane], dnk_load1(dz, index, bf16));
        dnk_store1(dx, index, g * data_gain[lane] - value * x_gain[lane] + offset[lane], bf16);
      }
    }
    return;
  }
  for (int64_t first = 0; first < block; first += DNK_LANES) {
    dnk_floats gain = *(const dnk_floats *)(scale + first);
    dnk_floats bias = *(const dnk_floats *)(shift + first);
    dnk_floats g_gain = *(const dnk_floats *)(data_gain + first);
    dnk_floats value_gain = *(const dnk_floats *)(x_gain + first);
    dnk_floats constant = *(const dnk_floats *)(offset + first);
    for (int64_t position = 0; position < shape->spatial; position++) {
      int64_t index = slab + position * block + first;
      dnk_floats value = dnk_load(x, index, x_bf16);
      dnk_floats g = dnk_pass_lanes(value * gain + bias, dnk_load(dz, index, bf16));
      dnk_store(dx, index, g * g_gain - value * value_gain + constant, bf16);
    }
  }
}

static void dnk_backward_diff(const void *raw, int64_t begin, int64_t end) {
  const dnk_context *context = raw;
  const dnk_blocked_shape *shape = context->shape;
  int64_t block = shape->block;
  int64_t channel_blocks = shape->channels / block;
  for (int64_t unit = begin; unit < end; unit++) {
    dnk_diff_slab(context, unit * shape->spatial * block, (unit % channel_blocks) * block);
  }
}

dnk_status dnk_batch_norm_relu6_backward(const dnk_blocked_shape *shape, const void *x,
                                         const void *dz, const float *gamma,
                                         const float *beta, const float *mean,
                                         const float *variance, float epsilon, void *dx,
                                         float *dgamma, float *dbeta, int32_t thread_count) {
  if (!dnk_valid(shape) || x == NULL || dz == NULL || gamma == NULL || beta == NULL ||
      mean == NULL || variance == NULL || dx == NULL || dgamma == NULL || dbeta == NULL ||
      dx == x || !(epsilon >= 0)) {
    return DNK_ERROR_ARGUMENT;
  }
  int64_t channels = shape->channels;
  float *scratch = malloc(5 * (size_t)channels * sizeof(float));
  if (scratch == NULL) return DNK_ERROR_MEMORY;
  dnk_context context = {0};
  context.shape = shape;
  context.x = x;
  context.dz = dz;
  context.x_bf16 = shape->source_type == DNK_BFLOAT16;
  context.bf16 = shape->element_type == DNK_BFLOAT16;
  context.gamma = gamma;
  context.beta = beta;
  context.epsilon = epsilon;
  context.mean = mean;
  context.variance = variance;
  context.scale = scratch;
  context.shift = scratch + channels;
  context.data_gain = scratch + 2 * channels;
  context.x_gain = scratch + 3 * channels;
  context.offset = scratch + 4 * channels;
  context.dgamma = dgamma;
  context.dbeta = dbeta;
  context.output = dx;
  for (int64_t channel = 0; channel < channels; channel++) {
    dnk_affine(gamma[channel], beta[channel], mean[channel], variance[channel], epsilon,
               &context.scale[channel], &context.shift[channel]);
  }
  int64_t channel_blocks = channels / shape->block;
  dnk_parallel_for(channel_blocks, thread_count, dnk_backward_sums, &context);
  dnk_parallel_for(shape->batch * channel_blocks, thread_count, dnk_backward_diff, &context);
  free(scratch);
  return DNK_OK;
}
