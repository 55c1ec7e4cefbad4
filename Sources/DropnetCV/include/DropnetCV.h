// DropnetCV: a plain-C view of the few OpenCV features dropnet needs.
//
// Every function is exported with the `dncv_` prefix, returns a status code,
// and catches every C++ exception inside the shim: nothing C++ crosses into
// Swift. On failure the message is copied into the caller's `error` buffer
// (always NUL-terminated, truncated to `error_capacity`).
#ifndef DROPNET_CV_H
#define DROPNET_CV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes shared by every function.
typedef enum {
  DNCV_OK = 0,
  /// The file could not be opened or is not a video/image OpenCV can decode.
  DNCV_ERROR_OPEN = 1,
  /// A frame or image could not be decoded.
  DNCV_ERROR_DECODE = 2,
  /// A file could not be written.
  DNCV_ERROR_WRITE = 3,
  /// An argument was out of range.
  DNCV_ERROR_ARGUMENT = 4,
  /// OpenCV threw an exception (message in `error`).
  DNCV_ERROR_INTERNAL = 5,
  /// No more frames: the end of the stream was reached.
  DNCV_END_OF_STREAM = 6,
} dncv_status;

// MARK: - Images

/// An 8-bit interleaved image owned by the shim. Release with `dncv_image_free`.
typedef struct dncv_image dncv_image;

/// Width, height and channel count of `image`.
int32_t dncv_image_width(const dncv_image *image);
int32_t dncv_image_height(const dncv_image *image);
int32_t dncv_image_channels(const dncv_image *image);
/// Pixel bytes, row-major, rows packed (stride = width * channels), BGR order
/// for 3 channels (OpenCV's native order).
const uint8_t *dncv_image_data(const dncv_image *image);
void dncv_image_free(dncv_image *image);

/// Creates an image from packed BGR (channels 3) or gray (channels 1) bytes.
dncv_status dncv_image_create(const uint8_t *data, int32_t width, int32_t height,
                              int32_t channels, dncv_image **out, char *error,
                              size_t error_capacity);

/// Decodes an image file (JPEG, PNG, ...) as 3-channel BGR, honouring EXIF
/// orientation.
dncv_status dncv_image_read(const char *path, dncv_image **out, char *error,
                            size_t error_capacity);

/// Encodes `image` as JPEG with `quality` (0-100) to `path`.
dncv_status dncv_image_write_jpeg(const dncv_image *image, const char *path,
                                  int32_t quality, char *error,
                                  size_t error_capacity);

/// Encodes `image` as JPEG with `quality` (0-100) into memory: `*out` holds
/// `*count` bytes, allocated with malloc; release with `dncv_bytes_free`.
dncv_status dncv_image_encode_jpeg(const dncv_image *image, int32_t quality,
                                   uint8_t **out, size_t *count, char *error,
                                   size_t error_capacity);

/// Releases bytes the shim allocated (`dncv_image_encode_jpeg`).
void dncv_bytes_free(uint8_t *bytes);

/// Writes `image` to `path` in the format its extension names (.png, .jpg).
dncv_status dncv_image_write(const dncv_image *image, const char *path,
                             char *error, size_t error_capacity);

/// Resizes to exactly `width` x `height` (area interpolation when shrinking,
/// linear when growing).
dncv_status dncv_image_resize(const dncv_image *image, int32_t width,
                              int32_t height, dncv_image **out, char *error,
                              size_t error_capacity);

/// Rotates clockwise by a multiple of 90 degrees (0, 90, 180, 270).
dncv_status dncv_image_rotate(const dncv_image *image,
                              int32_t clockwise_degrees, dncv_image **out,
                              char *error, size_t error_capacity);

/// How `dncv_image_warp_affine` fills pixels that map outside the source.
typedef enum {
  /// Repeat the nearest edge pixel (Keras' default fill_mode "nearest").
  DNCV_BORDER_REPLICATE = 0,
  /// Mirror without repeating the edge pixel (Keras' fill_mode "reflect").
  DNCV_BORDER_REFLECT = 1,
} dncv_border;

/// Warps `image` into a `width` x `height` image with the forward affine map
/// `matrix` (2x3, row-major: x' = m0 x + m1 y + m2, y' = m3 x + m4 y + m5, in
/// pixel-centre coordinates, source to destination), bilinear interpolation.
dncv_status dncv_image_warp_affine(const dncv_image *image,
                                   const double *matrix, int32_t width,
                                   int32_t height, dncv_border border,
                                   dncv_image **out, char *error,
                                   size_t error_capacity);

/// Every byte v becomes saturate(round(v * gain + offset)), rounding half to
/// even (OpenCV's convertTo).
dncv_status dncv_image_scale_shift(const dncv_image *image, double gain,
                                   double offset, dncv_image **out, char *error,
                                   size_t error_capacity);

/// Sharpness: variance of the Laplacian of the gray image (higher = sharper).
/// Computed on a copy downscaled so its longer side is at most `max_side`
/// pixels (0 = no downscale), so the figure is comparable across resolutions.
dncv_status dncv_image_sharpness(const dncv_image *image, int32_t max_side,
                                 double *out, char *error,
                                 size_t error_capacity);

/// 64-bit difference hash (dHash): gray, 9x8 area resize, one bit per
/// horizontally adjacent pair. Near-identical images differ in few bits.
dncv_status dncv_image_dhash(const dncv_image *image, uint64_t *out,
                             char *error, size_t error_capacity);

// MARK: - Videos

/// A video opened with OpenCV's FFmpeg backend. Release with `dncv_video_close`.
typedef struct dncv_video dncv_video;

/// What the container says about a video.
typedef struct {
  /// Decoded frame size before rotation.
  int32_t width;
  int32_t height;
  /// Frames per second from the container (0 when unknown).
  double fps;
  /// Frame count the header claims (may be wrong; 0 when unknown).
  int64_t claimed_frame_count;
  /// Clockwise rotation (0, 90, 180, 270) to apply to decoded frames to show
  /// them upright, from the container's display matrix.
  int32_t rotation_clockwise_degrees;
  /// Codec FourCC as text, e.g. "h264", "hevc".
  char codec[8];
} dncv_video_info;

/// Opens `path` with the FFmpeg backend, auto-orientation off (OpenCV 4.6
/// rotates the wrong way, opencv#22088: callers rotate by
/// `rotation_clockwise_degrees` themselves).
dncv_status dncv_video_open(const char *path, dncv_video **out,
                            dncv_video_info *info, char *error,
                            size_t error_capacity);

/// Advances one frame without converting it; `DNCV_END_OF_STREAM` at the end.
dncv_status dncv_video_grab(dncv_video *video, char *error,
                            size_t error_capacity);

/// Converts the frame last grabbed to a BGR image (not rotated).
dncv_status dncv_video_retrieve(dncv_video *video, dncv_image **out,
                                char *error, size_t error_capacity);

void dncv_video_close(dncv_video *video);

// MARK: - Drawing (learning curves)

/// A simple line chart: `series_count` series of `point_count` points each,
/// drawn into a `width` x `height` image and written to `path` (PNG).
/// `values` holds the series one after another; NaN values are skipped.
/// The y axis spans `y_low`..`y_high` with grid lines and labels at the
/// `y_tick_count` values in `y_ticks`. `colors_bgr` holds 3 bytes per series;
/// `names` one label per series (drawn as a legend above the plot area, so it
/// never covers a curve). `marked_point` (0-based, -1 for none) gets a dashed
/// vertical line labelled `mark_label`.
dncv_status dncv_plot_lines(const char *path, int32_t width, int32_t height,
                            const char *title, const char *x_label,
                            const double *values, int32_t series_count,
                            int32_t point_count, const uint8_t *colors_bgr,
                            const char *const *names, double y_low,
                            double y_high, const double *y_ticks,
                            int32_t y_tick_count, int32_t marked_point,
                            const char *mark_label, char *error,
                            size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif
