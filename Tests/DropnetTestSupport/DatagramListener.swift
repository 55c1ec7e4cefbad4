import Foundation

/// A Unix datagram socket bound to a path, as systemd binds `$NOTIFY_SOCKET`; received from
/// one thread at a time.
public final class DatagramListener: @unchecked Sendable {
  /// Where the socket is bound.
  public let path: String
  private let descriptor: Int32

  /// Binds a new socket at `path`.
  public init(path: String) throws {
    self.path = path
    descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    var address = DatagramListener.address(path)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
      }
    }
    guard bound == 0 else {
      close(descriptor)
      throw POSIXError(POSIXErrorCode(rawValue: errno)!)
    }
  }

  deinit {
    close(descriptor)
    unlink(path)
  }

  /// The next datagram as text, or nil when none comes within `deadline`.
  public func receive(within deadline: Duration) -> String? {
    let (seconds, attoseconds) = deadline.components
    let milliseconds = Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    var waiting = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
    guard poll(&waiting, 1, milliseconds) == 1 else { return nil }
    var buffer = [UInt8](repeating: 0, count: 65536)
    let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
    guard count >= 0 else { return nil }
    return String(decoding: buffer[0..<count], as: UTF8.self)
  }

  /// A `sockaddr_un` for `path`.
  public static func address(_ path: String) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8.prefix(107))
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
    }
    return address
  }

  /// Whether something receives datagrams at `path` (connect is refused when nothing does).
  public static func isListening(_ path: String) -> Bool {
    let probe = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    guard probe >= 0 else { return false }
    defer { close(probe) }
    var address = DatagramListener.address(path)
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
      }
    }
  }
}
