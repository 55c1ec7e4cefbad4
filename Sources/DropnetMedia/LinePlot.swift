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

  public var title: String
  public var xLabel: String
  public var series: [Series]
  public var width = 640
  public var height = 400

  public init(title: String, xLabel: String, series: [Series]) {
    self.title = title
    self.xLabel = xLabel
    self.series = series
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
    var names = series.map { strdup($0.name) }
    defer { names.forEach { free($0) } }
    try MediaError.check(path: path) { error, capacity in
      names.withUnsafeMutableBufferPointer { namePointers in
        namePointers.withMemoryRebound(to: UnsafePointer<CChar>?.self) { constNames in
          dncv_plot_lines(
            path, Int32(width), Int32(height), title, xLabel, values, Int32(series.count),
            Int32(pointCount), colors, constNames.baseAddress, error, capacity)
        }
      }
    }
  }
}
