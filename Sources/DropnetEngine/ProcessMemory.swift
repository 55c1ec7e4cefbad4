#if canImport(Glibc)
  import Glibc
#endif

/// A process's resident memory as the kernel counts it, from Linux's /proc/PROCESS/status
/// (`process` is a pid, or "self").
public enum ProcessMemory {
  /// Peak resident set size (VmHWM) in bytes; nil where /proc is unavailable or the process
  /// has gone.
  public static func peakResidentBytes(process: String = "self") -> Int? {
    kilobytes("VmHWM", process: process).map { $0 * 1024 }
  }

  /// Current resident set size (VmRSS) in bytes; nil as above.
  public static func residentBytes(process: String = "self") -> Int? {
    kilobytes("VmRSS", process: process).map { $0 * 1024 }
  }

  /// `peakResidentBytes` in megabytes (2^20 bytes); nan when unknown.
  public static func peakResidentMegabytes(process: String = "self") -> Double {
    peakResidentBytes(process: process).map { Double($0) / 1_048_576 } ?? .nan
  }

  /// `residentBytes` in megabytes (2^20 bytes); nan when unknown.
  public static func residentMegabytes(process: String = "self") -> Double {
    residentBytes(process: process).map { Double($0) / 1_048_576 } ?? .nan
  }

  /// Resets this process's peak to its current resident size (writing 5 to
  /// /proc/self/clear_refs, Linux 4.0+) so that the next reading covers only what follows;
  /// returns whether it worked.
  @discardableResult
  public static func resetPeak() -> Bool {
    let file = fopen("/proc/self/clear_refs", "w")
    guard let file else { return false }
    defer { fclose(file) }
    return fputs("5", file) >= 0
  }

  /// The status line `field:   N kB` as N.
  private static func kilobytes(_ field: String, process: String) -> Int? {
    guard let status = readFile("/proc/\(process)/status") else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count >= 2, let kilobytes = Int(fields[1]) else { return nil }
      return kilobytes
    }
    return nil
  }

  private static func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = fread(&buffer, 1, buffer.count, file)
      if count <= 0 { break }
      bytes += buffer[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
