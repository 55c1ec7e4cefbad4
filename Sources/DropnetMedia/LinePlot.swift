import DropnetCV
import Foundation

/// A line chart drawn with OpenCV, e.g. learning curves.
public struct LinePlot: Sendable {
  /// One named line; NaN points are left out.
  public struct Series: Sendable {
    public var name: String
    public var values: [Double]
    /// Colour as (red, green, blue).
    public var color: (red: UInt8, green: UInt8, blue: UInt8)
    public init(name: String, values: [Double], color: (red: UInt8, green: UInt8, blue: UInt8)) {
      self.name = name
      self.values = values
      self.color = color
    }
  }

  /// The y axis: its span and the values that get a grid line and a label.
  public struct Axis: Sendable, Equatable {
    public var low: Double
    public var high: Double
    public var ticks: [Double]
  }

  public var title: String
  public var xLabel: String
  public var series: [Series]
  public var width = 640
  public var height = 400
  /// The y axis starts at or below this value (nil: fitted to the data).
  public var yMinimum: Double?
  /// The y axis ends at or above this value (nil: fitted to the data).
  public var yMaximum: Double?
  /// A point (0-based index) marked by a dashed vertical line, e.g. the best epoch.
  public var markedPoint: Int?
  /// The text next to the marked point's line.
  public var markLabel = ""

  public init(title: String, xLabel: String, series: [Series]) {
    self.title = title
    self.xLabel = xLabel
    self.series = series
  }

  /// The y axis for values spanning `low...high`: round ticks one "nice" step apart (1, 2 or
  /// 5 times a power of ten, five or six steps in all) and a span that ends on ticks, so the
  /// labels read 0, 0.5, 1 rather than 0.23, 0.432, 0.633.
  public static func axis(low: Double, high: Double) -> Axis {
    var low = low.isFinite ? low : 0
    var high = high.isFinite ? high : 1
    if high < low { swap(&low, &high) }
    if high - low < 1e-12 {
      // A flat line: give it a unit-sized span around its value.
      let centre = low
      low = centre - 0.5
      high = centre + 0.5
    }
    let rough = (high - low) / 5
    let magnitude = pow(10, floor(log10(rough)))
    let step =
      [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= rough * 0.999 } ?? 10 * magnitude
    let first = (low / step).rounded(.down)
    let last = (high / step).rounded(.up)
    // Multiplying integers by the step (not adding steps up) keeps 0.30000000000000004 away.
    let ticks = stride(from: first, through: last, by: 1).map { ($0 * step * 1e9).rounded() / 1e9 }
    return Axis(low: ticks.first!, high: ticks.last!, ticks: ticks)
  }

  /// The axis this plot draws: its data, widened to `yMinimum`/`yMaximum` where given.
  public var yAxis: Axis {
    let finite = series.flatMap(\.values).filter(\.isFinite)
    var low = finite.min() ?? yMinimum ?? 0
    var high = finite.max() ?? yMaximum ?? 1
    if let yMinimum { low = min(low, yMinimum) }
    if let yMaximum { high = max(high, yMaximum) }
    return Self.axis(low: low, high: high)
  }

  /// Draws the chart into a PNG file at `path`.
  public func write(to path: String) throws {
    let pointCount = series.map(\.values.count).max() ?? 0
    var values: [Double] = []
    var colors: [UInt8] = []
    for line in series {
      values += line.values + Array(repeating: .nan, count: pointCount - line.values.count)
      colors += [line.color.blue, line.color.green, line.color.red]
    }
    let axis = yAxis
    var names = series.map { strdup($0.name) }
    defer { names.forEach { free($0) } }
    try MediaError.check(path: path) { error, capacity in
      names.withUnsafeMutableBufferPointer { namePointers in
        namePointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { constNames in
          dncv_plot_lines(
            path, Int32(width), Int32(height), title, xLabel, values, Int32(series.count),
            Int32(pointCount), colors, constNames.baseAddress, axis.low, axis.high, axis.ticks,
            Int32(axis.ticks.count), Int32(markedPoint ?? -1), markLabel, error, capacity)
        }
      }
    }
  }
}
