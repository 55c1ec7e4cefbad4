import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// The write end of the signal pipe; set once before any handler is installed.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// The signal handler: only async-signal-safe work (one write to a pipe).
private let signalHandler: @convention(c) (Int32) -> Void = { signal in
  let saved = errno
  var byte = UInt8(truncatingIfNeeded: signal)
  _ = write(signalPipeWriteEnd, &byte, 1)
  errno = saved
}

/// Receives SIGHUP, SIGUSR1, SIGTERM and SIGINT (self-pipe: the handler writes the number to a
/// pipe, a thread reads it) and keeps them as pending requests, coalesced: ten SIGHUPs before
/// the daemon looks are one reload.
public final class SignalMailbox: Sendable {
  private struct Pending {
    var signals: [ServicePlanner.Signal] = []
    var stopping = false
  }

  private let pending = Mutex(Pending())
  private let readEnd: Int32
  private let onStop: @Sendable () -> Void

  /// Installs the handlers (one mailbox per process; `installingHandlers: false` makes one that
  /// only takes `post`, for tests); `onStop` runs when SIGTERM or SIGINT arrives first.
  public init(installingHandlers: Bool = true, onStop: @escaping @Sendable () -> Void = {}) throws {
    self.onStop = onStop
    guard installingHandlers else {
      readEnd = -1
      return
    }
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else {
      throw DaemonError(
        .folder, "cannot create the signal pipe: \(String(cString: strerror(errno)))")
    }
    _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
    _ = fcntl(ends[1], F_SETFL, O_NONBLOCK)
    readEnd = ends[0]
    signalPipeWriteEnd = ends[1]
    for signal in [SIGHUP, SIGUSR1, SIGTERM, SIGINT] {
      var action = sigaction()
      action.__sigaction_handler.sa_handler = signalHandler
      sigemptyset(&action.sa_mask)
      action.sa_flags = SA_RESTART
      sigaction(signal, &action, nil)
    }
    let thread = Thread { [self] in self.readSignals() }
    thread.name = "dropnet-signals"
    thread.start()
  }

  /// The signals received since the last call, each once, in the order first received.
  public func take() -> [ServicePlanner.Signal] {
    pending.withLock { pending in
      defer { pending.signals.removeAll() }
      return pending.signals
    }
  }

  /// Whether SIGTERM or SIGINT arrived.
  public var isStopping: Bool { pending.withLock { $0.stopping } }

  /// Records a request as if its signal had arrived (tests; `dropnet rebuild` goes by signal).
  public func post(_ signal: ServicePlanner.Signal) {
    let firstStop = pending.withLock { pending -> Bool in
      if !pending.signals.contains(signal) { pending.signals.append(signal) }
      guard signal == .stop, !pending.stopping else { return false }
      pending.stopping = true
      return true
    }
    if firstStop { onStop() }
  }

  private func readSignals() {
    while true {
      var byte: UInt8 = 0
      let count = read(readEnd, &byte, 1)
      if count < 0 && errno == EINTR { continue }
      guard count == 1 else { return }
      switch Int32(byte) {
      case SIGHUP: post(.reload)
      case SIGUSR1: post(.rebuild)
      case SIGTERM, SIGINT: post(.stop)
      default: break
      }
    }
  }
}
