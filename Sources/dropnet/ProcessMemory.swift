import Foundation

/// A process's memory as the kernel counts it, from /proc/PROCESS/status.
enum ProcessMemory {
  /// Peak resident set size (VmHWM) in megabytes; nan once the process has gone.
  static func peakResidentMegabytes(process: String = "self") -> Double {
    megabytes("VmHWM", process: process)
  }

  /// Current resident set size (VmRSS) in megabytes; nan once the process has gone.
  static func residentMegabytes(process: String = "self") -> Double {
    megabytes("VmRSS", process: process)
  }

  /// The status line `field:   N kB` in megabytes; nan when the process or the field is gone.
  private static func megabytes(_ field: String, process: String) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") })
    else { return .nan }
    let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? .nan
    return kilobytes / 1024
  }
}
