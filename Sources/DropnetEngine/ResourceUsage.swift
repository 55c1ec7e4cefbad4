#if canImport(Glibc)
  import Glibc
#endif

/// The process's resident memory, from Linux's /proc/self/status.
enum ResourceUsage {
  /// Peak resident set size (VmHWM) in bytes, or nil where /proc is unavailable.
  static func peakResidentBytes() -> Int? {
    guard let status = readFile("/proc/self/status") else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
      // "VmHWM:     123456 kB"
      let fields = line.split(separator: " ", omittingEmptySubsequences: true)
      guard fields.count >= 2, let kilobytes = Int(fields[1]) else { return nil }
      return kilobytes * 1024
    }
    return nil
  }

  /// Resets the peak to the current resident size (writing 5 to /proc/self/clear_refs, Linux
  /// 4.0+) so that the next reading covers only what follows; returns whether it worked.
  @discardableResult
  static func resetPeak() -> Bool {
    let file = fopen("/proc/self/clear_refs", "w")
    guard let file else { return false }
    defer { fclose(file) }
    return fputs("5", file) >= 0
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
