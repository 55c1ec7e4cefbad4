// The C++ side of DropnetCV.h. Every exported function runs its body inside
// `guarded`, which turns any C++ exception into a status and a message.
#include "DropnetCV.h"

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

struct dncv_image {
  cv::Mat mat;
};

struct dncv_video {
  cv::VideoCapture capture;
};

namespace {

void set_error(char *error, size_t capacity, const std::string &message) {
  if (error == nullptr || capacity == 0) return;
  size_t length = message.size() < capacity - 1 ? message.size() : capacity - 1;
  std::memcpy(error, message.data(), length);
  error[length] = '\0';
}

template <typename Body>
dncv_status guarded(char *error, size_t capacity, Body body) {
  try {
    return body();
  } catch (const cv::Exception &exception) {
    set_error(error, capacity, std::string("OpenCV: ") + exception.what());
  } catch (const std::exception &exception) {
    set_error(error, capacity, std::string("C++: ") + exception.what());
  } catch (...) {
    set_error(error, capacity, "unknown C++ exception");
  }
  return DNCV_ERROR_INTERNAL;
}

dncv_status fail(char *error, size_t capacity, dncv_status status,
                 const std::string &message) {
  set_error(error, capacity, message);
  return status;
}

// OpenCV logs its own view of failures to stderr; the shim reports them to
// the caller instead, who says what to do.
void silence_opencv_logging() {
  static bool silenced = false;
  if (!silenced) {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    // FFmpeg's own messages ("moov atom not found"): quiet (-8) unless the
    // user asked for a level; OpenCV reads this when it first opens a video.
    setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);
    silenced = true;
  }
}

dncv_image *wrap(cv::Mat mat) {
  auto *image = new dncv_image;
  // Packed rows (stride = width * channels) are part of the contract.
  image->mat = mat.isContinuous() ? mat : mat.clone();
  return image;
}

cv::Mat gray_of(const cv::Mat &mat) {
  if (mat.channels() == 1) return mat;
  cv::Mat gray;
  cv::cvtColor(mat, gray, mat.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  return gray;
}

}  // namespace

extern "C" {

int32_t dncv_image_width(const dncv_image *image) { return image->mat.cols; }
int32_t dncv_image_height(const dncv_image *image) { return image->mat.rows; }
int32_t dncv_image_channels(const dncv_image *image) { return image->mat.channels(); }
const uint8_t *dncv_image_data(const dncv_image *image) { return image->mat.data; }
void dncv_image_free(dncv_image *image) { delete image; }

dncv_status dncv_image_create(const uint8_t *data, int32_t width, int32_t height,
                              int32_t channels, dncv_image **out, char *error,
                              size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3))
      return fail(error, error_capacity, DNCV_ERROR_ARGUMENT,
                  "image size must be positive with 1 or 3 channels");
    cv::Mat view(height, width, channels == 1 ? CV_8UC1 : CV_8UC3,
                 const_cast<uint8_t *>(data));
    *out = wrap(view.clone());
    return DNCV_OK;
  });
}

dncv_status dncv_image_read(const char *path, dncv_image **out, char *error,
                            size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    cv::Mat mat = cv::imread(path, cv::IMREAD_COLOR);
    if (mat.empty())
      return fail(error, error_capacity, DNCV_ERROR_OPEN,
                  "cannot read or decode the image");
    *out = wrap(mat);
    return DNCV_OK;
  });
}

dncv_status dncv_image_write_jpeg(const dncv_image *image, const char *path,
                                  int32_t quality, char *error,
                                  size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    if (quality < 0 || quality > 100)
      return fail(error, error_capacity, DNCV_ERROR_ARGUMENT, "JPEG quality must be 0-100");
    std::vector<int> parameters = {cv::IMWRITE_JPEG_QUALITY, quality};
    std::string target(path);
    if (!cv::imwrite(target, image->mat, parameters))
      return fail(error, error_capacity, DNCV_ERROR_WRITE, "cannot write the JPEG file");
    return DNCV_OK;
  });
}

dncv_status dncv_image_encode_jpeg(const dncv_image *image, int32_t quality,
                                   uint8_t **out, size_t *count, char *error,
                                   size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    if (quality < 0 || quality > 100)
      return fail(error, error_capacity, DNCV_ERROR_ARGUMENT, "JPEG quality must be 0-100");
    std::vector<int> parameters = {cv::IMWRITE_JPEG_QUALITY, quality};
    std::vector<uchar> encoded;
    if (!cv::imencode(".jpg", image->mat, encoded, parameters) || encoded.empty())
      return fail(error, error_capacity, DNCV_ERROR_WRITE, "cannot encode the JPEG");
    auto *bytes = static_cast<uint8_t *>(std::malloc(encoded.size()));
    if (bytes == nullptr)
      return fail(error, error_capacity, DNCV_ERROR_INTERNAL, "out of memory");
    std::memcpy(bytes, encoded.data(), encoded.size());
    *out = bytes;
    *count = encoded.size();
    return DNCV_OK;
  });
}

void dncv_bytes_free(uint8_t *bytes) { std::free(bytes); }

dncv_status dncv_image_write(const dncv_image *image, const char *path,
                             char *error, size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    if (!cv::imwrite(std::string(path), image->mat))
      return fail(error, error_capacity, DNCV_ERROR_WRITE, "cannot write the image file");
    return DNCV_OK;
  });
}

dncv_status dncv_image_resize(const dncv_image *image, int32_t width,
                              int32_t height, dncv_image **out, char *error,
                              size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    if (width <= 0 || height <= 0)
      return fail(error, error_capacity, DNCV_ERROR_ARGUMENT, "size must be positive");
    bool shrinking = width < image->mat.cols || height < image->mat.rows;
    cv::Mat resized;
    cv::resize(image->mat, resized, cv::Size(width, height), 0, 0,
               shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    *out = wrap(resized);
    return DNCV_OK;
  });
}

dncv_status dncv_image_rotate(const dncv_image *image,
                              int32_t clockwise_degrees, dncv_image **out,
                              char *error, size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    int32_t normalized = ((clockwise_degrees % 360) + 360) % 360;
    cv::Mat rotated;
    switch (normalized) {
      case 0: rotated = image->mat.clone(); break;
      case 90: cv::rotate(image->mat, rotated, cv::ROTATE_90_CLOCKWISE); break;
      case 180: cv::rotate(image->mat, rotated, cv::ROTATE_180); break;
      case 270: cv::rotate(image->mat, rotated, cv::ROTATE_90_COUNTERCLOCKWISE); break;
      default:
        return fail(error, error_capacity, DNCV_ERROR_ARGUMENT,
                    "rotation must be a multiple of 90 degrees");
    }
    *out = wrap(rotated);
    return DNCV_OK;
  });
}

dncv_status dncv_image_warp_affine(const dncv_image *image,
                                   const double *matrix, int32_t width,
                                   int32_t height, dncv_border border,
                                   dncv_image **out, char *error,
                                   size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    if (width <= 0 || height <= 0)
      return fail(error, error_capacity, DNCV_ERROR_ARGUMENT, "size must be positive");
    int border_mode;
    switch (border) {
      case DNCV_BORDER_REPLICATE: border_mode = cv::BORDER_REPLICATE; break;
      case DNCV_BORDER_REFLECT: border_mode = cv::BORDER_REFLECT_101; break;
      default:
        return fail(error, error_capacity, DNCV_ERROR_ARGUMENT, "unknown border mode");
    }
    for (int index = 0; index < 6; ++index) {
      if (!std::isfinite(matrix[index]))
        return fail(error, error_capacity, DNCV_ERROR_ARGUMENT, "matrix must be finite");
    }
    cv::Mat forward(2, 3, CV_64F);
    for (int index = 0; index < 6; ++index) forward.at<double>(index / 3, index % 3) = matrix[index];
    cv::Mat warped;
    cv::warpAffine(image->mat, warped, forward, cv::Size(width, height), cv::INTER_LINEAR,
                   border_mode);
    *out = wrap(warped);
    return DNCV_OK;
  });
}

dncv_status dncv_image_scale_shift(const dncv_image *image, double gain,
                                   double offset, dncv_image **out, char *error,
                                   size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    if (!std::isfinite(gain) || !std::isfinite(offset))
      return fail(error, error_capacity, DNCV_ERROR_ARGUMENT, "gain and offset must be finite");
    cv::Mat scaled;
    image->mat.convertTo(scaled, -1, gain, offset);
    *out = wrap(scaled);
    return DNCV_OK;
  });
}

dncv_status dncv_image_sharpness(const dncv_image *image, int32_t max_side,
                                 double *out, char *error,
                                 size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    cv::Mat gray = gray_of(image->mat);
    int longer = gray.cols > gray.rows ? gray.cols : gray.rows;
    if (max_side > 0 && longer > max_side) {
      double scale = double(max_side) / double(longer);
      cv::Mat small;
      cv::resize(gray, small, cv::Size(), scale, scale, cv::INTER_AREA);
      gray = small;
    }
    cv::Mat laplacian;
    cv::Laplacian(gray, laplacian, CV_64F);
    cv::Scalar mean, deviation;
    cv::meanStdDev(laplacian, mean, deviation);
    *out = deviation[0] * deviation[0];
    return DNCV_OK;
  });
}

dncv_status dncv_image_dhash(const dncv_image *image, uint64_t *out,
                             char *error, size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    cv::Mat small;
    // 9 columns give 8 left/right comparisons per row, 8 rows: 64 bits.
    cv::resize(gray_of(image->mat), small, cv::Size(9, 8), 0, 0, cv::INTER_AREA);
    uint64_t hash = 0;
    for (int row = 0; row < 8; ++row)
      for (int column = 0; column < 8; ++column) {
        hash <<= 1;
        if (small.at<uint8_t>(row, column) < small.at<uint8_t>(row, column + 1)) hash |= 1;
      }
    *out = hash;
    return DNCV_OK;
  });
}

dncv_status dncv_video_open(const char *path, dncv_video **out,
                            dncv_video_info *info, char *error,
                            size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    silence_opencv_logging();
    auto *video = new dncv_video;
    bool opened = false;
    try {
      opened = video->capture.open(std::string(path), cv::CAP_FFMPEG);
    } catch (...) {
      delete video;
      throw;
    }
    if (!opened || !video->capture.isOpened()) {
      delete video;
      return fail(error, error_capacity, DNCV_ERROR_OPEN,
                  "no video stream could be opened");
    }
    // Auto-orientation off: OpenCV 4.6 rotates portrait movies the wrong way
    // (opencv#22088); callers rotate by the reported metadata instead. (4.6
    // rejects this property as an open() parameter, so it is set after.)
    video->capture.set(cv::CAP_PROP_ORIENTATION_AUTO, 0);
    std::memset(info, 0, sizeof(*info));
    info->width = int32_t(video->capture.get(cv::CAP_PROP_FRAME_WIDTH));
    info->height = int32_t(video->capture.get(cv::CAP_PROP_FRAME_HEIGHT));
    double fps = video->capture.get(cv::CAP_PROP_FPS);
    info->fps = std::isfinite(fps) && fps > 0 ? fps : 0;
    double frames = video->capture.get(cv::CAP_PROP_FRAME_COUNT);
    info->claimed_frame_count = std::isfinite(frames) && frames > 0 ? int64_t(frames) : 0;
    // OpenCV 4.6 reports the display matrix angle counter-clockwise, and its
    // own auto-rotation applies it clockwise (the opencv#22088 bug). Frames
    // are shown upright by rotating the other way, as FFmpeg itself does;
    // VideoOrientationTests checks this against FFmpeg's decoding.
    int32_t meta = int32_t(std::lround(video->capture.get(cv::CAP_PROP_ORIENTATION_META)));
    info->rotation_clockwise_degrees = ((360 - meta % 360) + 360) % 360;
    int fourcc = int(video->capture.get(cv::CAP_PROP_FOURCC));
    for (int index = 0; index < 4; ++index) {
      char character = char((fourcc >> (8 * index)) & 0xff);
      info->codec[index] = (character >= 32 && character < 127) ? character : '?';
    }
    if (info->width <= 0 || info->height <= 0) {
      delete video;
      return fail(error, error_capacity, DNCV_ERROR_OPEN, "the video reports no frame size");
    }
    *out = video;
    return DNCV_OK;
  });
}

dncv_status dncv_video_grab(dncv_video *video, char *error,
                            size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    return video->capture.grab() ? DNCV_OK : DNCV_END_OF_STREAM;
  });
}

dncv_status dncv_video_retrieve(dncv_video *video, dncv_image **out,
                                char *error, size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    cv::Mat frame;
    if (!video->capture.retrieve(frame) || frame.empty())
      return fail(error, error_capacity, DNCV_ERROR_DECODE, "the frame could not be decoded");
    *out = wrap(frame.clone());
    return DNCV_OK;
  });
}

void dncv_video_close(dncv_video *video) {
  try {
    delete video;
  } catch (...) {
  }
}

dncv_status dncv_plot_lines(const char *path, int32_t width, int32_t height,
                            const char *title, const char *x_label,
                            const double *values, int32_t series_count,
                            int32_t point_count, const uint8_t *colors_bgr,
                            const char *const *names, double y_low,
                            double y_high, const double *y_ticks,
                            int32_t y_tick_count, int32_t marked_point,
                            const char *mark_label, char *error,
                            size_t error_capacity) {
  return guarded(error, error_capacity, [&]() {
    if (width < 200 || height < 150 || series_count <= 0 || point_count <= 0)
      return fail(error, error_capacity, DNCV_ERROR_ARGUMENT,
                  "plot needs at least 200x150 pixels, one series and one point");
    if (!std::isfinite(y_low) || !std::isfinite(y_high) || !(y_high > y_low))
      return fail(error, error_capacity, DNCV_ERROR_ARGUMENT,
                  "plot needs a finite y range with high > low");
    cv::Mat canvas(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
    const int left = 60, right = 20, top = 40, bottom = 45;
    const cv::Rect area(left, top, width - left - right, height - top - bottom);
    const cv::Scalar axis(60, 60, 60), grid(225, 225, 225), mark(150, 150, 150);
    const int font = cv::FONT_HERSHEY_SIMPLEX;
    auto x_of = [&](int32_t point) {
      return area.x + (point_count == 1 ? area.width / 2
                                        : int(std::lround(double(area.width) * point / (point_count - 1))));
    };
    auto y_of = [&](double value) {
      return area.y + area.height - int(std::lround(area.height * (value - y_low) / (y_high - y_low)));
    };
    for (int32_t tick = 0; tick < y_tick_count; ++tick) {
      int y = y_of(y_ticks[tick]);
      if (y < area.y || y > area.y + area.height) continue;
      cv::line(canvas, {area.x, y}, {area.x + area.width, y}, grid, 1, cv::LINE_AA);
      char text[32];
      std::snprintf(text, sizeof text, "%g", y_ticks[tick]);
      cv::putText(canvas, text, {4, y + 4}, font, 0.4, axis, 1, cv::LINE_AA);
    }
    int x_ticks = std::min(point_count, 10);
    for (int tick = 0; tick <= x_ticks; ++tick) {
      int point = point_count == 1 ? 0 : int(std::lround(double(point_count - 1) * tick / x_ticks));
      char text[32];
      std::snprintf(text, sizeof text, "%d", point + 1);
      cv::putText(canvas, text, {x_of(point) - 6, area.y + area.height + 16}, font, 0.4, axis, 1,
                  cv::LINE_AA);
    }
    if (marked_point >= 0 && marked_point < point_count) {
      // Dashed: 6 px on, 4 px off, so it reads as a marker and not as data.
      int x = x_of(marked_point);
      for (int y = area.y; y < area.y + area.height; y += 10)
        cv::line(canvas, {x, y}, {x, std::min(y + 6, area.y + area.height)}, mark, 1, cv::LINE_AA);
      if (mark_label != nullptr && mark_label[0] != '\0') {
        int baseline = 0;
        cv::Size size = cv::getTextSize(mark_label, font, 0.4, 1, &baseline);
        int text_x = std::min(x + 4, area.x + area.width - size.width - 2);
        cv::putText(canvas, mark_label, {text_x, area.y + area.height - 6}, font, 0.4, axis, 1,
                    cv::LINE_AA);
      }
    }
    cv::rectangle(canvas, area, axis, 1);
    cv::putText(canvas, title, {left, 24}, font, 0.6, axis, 1, cv::LINE_AA);
    cv::putText(canvas, x_label, {area.x + area.width / 2 - 20, height - 8}, font, 0.45, axis, 1,
                cv::LINE_AA);
    // Legend: one row in the header, right-aligned, outside the plot area.
    int legend_right = area.x + area.width;
    for (int32_t series = series_count - 1; series >= 0; --series) {
      cv::Scalar color(colors_bgr[3 * series], colors_bgr[3 * series + 1], colors_bgr[3 * series + 2]);
      int baseline = 0;
      cv::Size size = cv::getTextSize(names[series], font, 0.45, 1, &baseline);
      int text_x = legend_right - size.width;
      cv::putText(canvas, names[series], {text_x, 24}, font, 0.45, axis, 1, cv::LINE_AA);
      cv::line(canvas, {text_x - 30, 20}, {text_x - 6, 20}, color, 2, cv::LINE_AA);
      legend_right = text_x - 46;
    }
    for (int32_t series = 0; series < series_count; ++series) {
      cv::Scalar color(colors_bgr[3 * series], colors_bgr[3 * series + 1], colors_bgr[3 * series + 2]);
      cv::Point previous;
      bool has_previous = false;
      for (int32_t point = 0; point < point_count; ++point) {
        double value = values[series * point_count + point];
        if (!std::isfinite(value)) { has_previous = false; continue; }
        cv::Point current(x_of(point), y_of(value));
        if (has_previous) cv::line(canvas, previous, current, color, 2, cv::LINE_AA);
        cv::circle(canvas, current, 2, color, cv::FILLED, cv::LINE_AA);
        previous = current;
        has_previous = true;
      }
    }
    if (!cv::imwrite(std::string(path), canvas))
      return fail(error, error_capacity, DNCV_ERROR_WRITE, "cannot write the plot");
    return DNCV_OK;
  });
}

}  // extern "C"
