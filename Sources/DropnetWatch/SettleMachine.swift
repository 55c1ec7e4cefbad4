/// The drop-folder watcher's decisions, made from file-system events at given times.
///
/// Pure: no system calls and no clock of its own. Every event comes with the time it happened
/// (any monotonic origin, e.g. "since the watcher started"), so tests drive it with tables of
/// events at virtual times. Decisions that need the file system are asked for as effects
/// (`.stat`, `.watchFolder`); the caller carries them out and feeds the answers back
/// (`.status`, `.found`). The caller also feeds `.tick` at `nextDeadline`, so timers fire.
///
/// A file is complete when it was closed after writing (or moved in, or found by a scan) and
/// then kept the same size and modification time for `settlePeriod`: a slow copy is never
/// reported half done. "Retrain now" comes once the folder has been quiet for
/// `debouncePeriod` after the last change and no file is still settling: a burst of 20 movies
/// gives one retrain.
public struct SettleMachine: Sendable {
  /// The machine's timing.
  public struct Configuration: Sendable, Equatable {
    /// How long a file must keep its size and modification time before it counts as complete.
    public var settlePeriod: Duration
    /// Quiet time after the last change before retraining.
    public var debouncePeriod: Duration
    /// How long a moved-out file waits for its moved-in partner (same cookie) before it counts
    /// as removed. The kernel queues both halves of a rename together, so this can be short.
    public var renamePairingWindow: Duration

    /// Creates a configuration; the defaults suit movies copied over a network share.
    public init(
      settlePeriod: Duration = .seconds(5),
      debouncePeriod: Duration = .seconds(30),
      renamePairingWindow: Duration = .milliseconds(500)
    ) {
      self.settlePeriod = settlePeriod
      self.debouncePeriod = debouncePeriod
      self.renamePairingWindow = renamePairingWindow
    }
  }

  /// What a `stat` of a file said: enough to tell whether it is still being written.
  public struct FileStatus: Sendable, Hashable {
    /// Size in bytes.
    public var size: Int64
    /// Modification time, seconds since 1970.
    public var modificationSeconds: Int64
    /// Modification time, nanoseconds within the second.
    public var modificationNanoseconds: Int64

    /// Creates a status.
    public init(size: Int64, modificationSeconds: Int64, modificationNanoseconds: Int64 = 0) {
      self.size = size
      self.modificationSeconds = modificationSeconds
      self.modificationNanoseconds = modificationNanoseconds
    }
  }

  /// Something that happened; paths are absolute.
  public enum Event: Sendable, Hashable {
    /// The watcher started: everything already in the folder must be looked at.
    case started
    /// A file opened for writing was closed (`IN_CLOSE_WRITE`).
    case closedAfterWrite(String)
    /// A file was moved into a watched folder (`IN_MOVED_TO`); `cookie` pairs it with its
    /// moved-out half when it is a rename inside the watched folders.
    case movedIn(String, cookie: UInt32)
    /// A file was moved out of a watched folder (`IN_MOVED_FROM`).
    case movedOut(String, cookie: UInt32)
    /// A file was deleted (`IN_DELETE`).
    case deleted(String)
    /// A folder was created in or moved into the drop folder.
    case folderCreated(String)
    /// A watched folder was deleted, moved away or replaced: its files are unknown now.
    case folderRemoved(String)
    /// The kernel's event queue overflowed (`IN_Q_OVERFLOW`): events were lost.
    case queueOverflow
    /// A file found by scanning a newly watched folder (it arrived before the watch).
    case found(String)
    /// The answer to a `.stat` effect; `nil` when the file is gone.
    case status(String, FileStatus?)
    /// The caller saw a change by other means, e.g. a rescan that changed the dataset.
    case changed
    /// Time passed; feed it at `nextDeadline`.
    case tick
  }

  /// Why everything must be looked at again.
  public enum RescanReason: String, Sendable, Hashable {
    /// The watcher started; files may have changed while it was stopped.
    case startup
    /// The kernel dropped events.
    case queueOverflow = "queue_overflow"
    /// A watched folder went away (deleted, moved, or replaced by another).
    case folderRemoved = "folder_removed"
  }

  /// An effect for the caller to carry out, or a decision for the daemon.
  public enum Output: Sendable, Hashable {
    /// Effect: stat this file and feed `.status` back.
    case stat(String)
    /// Effect: watch this folder, then scan it and feed `.found` for each file in it.
    case watchFolder(String)
    /// Decision: the file is complete and can be processed.
    case fileComplete(String)
    /// Decision: the file is gone from the watched folders.
    case fileRemoved(String)
    /// Decision: compare the whole folder with what is known (then feed `.changed` if it
    /// differed, so a retrain follows).
    case rescan(RescanReason)
    /// Decision: the folder has been quiet long enough since the last change: retrain now.
    case retrain
  }

  /// A file between its close (or move in) and being reported complete.
  private struct SettlingFile: Sendable {
    /// The last status seen; nil until the first stat answers.
    var lastStatus: FileStatus?
    /// When `lastStatus` was first seen.
    var stableSince: Duration
    /// True while a `.stat` effect is out and unanswered.
    var awaitingStatus: Bool
    /// When to stat again.
    var nextCheck: Duration
  }

  /// A moved-out file waiting for its moved-in partner.
  private struct UnpairedMove: Sendable {
    var path: String
    var time: Duration
  }

  /// The timing this machine runs with.
  public let configuration: Configuration
  private var settling: [String: SettlingFile] = [:]
  private var unpairedMoves: [UInt32: UnpairedMove] = [:]
  /// A lower bound on the next check of every settling file not awaiting a stat (stale-low
  /// after removals, which only costs one needless look).
  private var earliestCheck: Duration?
  private var retrainDue: Duration?
  private var now: Duration = .zero

  /// Creates an idle machine; feed `.started` first.
  public init(configuration: Configuration = Configuration()) {
    self.configuration = configuration
  }

  /// Paths still settling (closed or moved in, not yet reported complete), sorted.
  public var settlingPaths: [String] { settling.keys.sorted() }

  /// The earliest time at which a `.tick` will produce something; nil when nothing is pending.
  public var nextDeadline: Duration? {
    var deadlines: [Duration] = []
    for file in settling.values where !file.awaitingStatus { deadlines.append(file.nextCheck) }
    for move in unpairedMoves.values {
      deadlines.append(move.time + configuration.renamePairingWindow)
    }
    // A retrain waits for settling files; their completion re-arms it anyway.
    if let retrainDue, settling.isEmpty, unpairedMoves.isEmpty { deadlines.append(retrainDue) }
    return deadlines.min()
  }

  /// Feeds one event that happened at `time` and returns the effects and decisions, in order.
  /// Times must not go backwards; an earlier time is taken as the latest one seen.
  public mutating func handle(_ event: Event, at time: Duration) -> [Output] {
    now = max(now, time)
    // Timers that expired before this event act first: the caller was merely late to tick.
    var outputs = expireTimers()
    switch event {
    case .started:
      outputs.append(.rescan(.startup))
    case .closedAfterWrite(let path), .found(let path):
      outputs += beginSettling(path)
    case .movedIn(let path, let cookie):
      if let move = unpairedMoves.removeValue(forKey: cookie) {
        // A rename inside the watched folders: the old name is gone now, the new one settles.
        settling[move.path] = nil
        outputs.append(.fileRemoved(move.path))
        markChange()
      }
      outputs += beginSettling(path)
    case .movedOut(let path, let cookie):
      settling[path] = nil
      unpairedMoves[cookie] = UnpairedMove(path: path, time: now)
    case .deleted(let path):
      settling[path] = nil
      outputs.append(.fileRemoved(path))
      markChange()
    case .folderCreated(let path):
      outputs.append(.watchFolder(path))
    case .folderRemoved(let path):
      let prefix = path.hasSuffix("/") ? path : path + "/"
      for settlingPath in settling.keys where settlingPath.hasPrefix(prefix) {
        settling[settlingPath] = nil
      }
      outputs.append(.rescan(.folderRemoved))
    case .queueOverflow:
      // Lost events may include the other half of a rename; the rescan finds what is gone.
      unpairedMoves.removeAll()
      outputs.append(.rescan(.queueOverflow))
    case .status(let path, let status):
      outputs += settle(path, status: status)
    case .changed:
      markChange()
    case .tick:
      break
    }
    return outputs
  }

  /// Starts (or restarts, after another write) the settle period of a file and asks for a stat.
  private mutating func beginSettling(_ path: String) -> [Output] {
    let alreadyAsked = settling[path]?.awaitingStatus ?? false
    settling[path] = SettlingFile(
      lastStatus: nil, stableSince: now, awaitingStatus: true, nextCheck: now)
    return alreadyAsked ? [] : [.stat(path)]
  }

  /// Takes a stat answer: complete when unchanged for the settle period, otherwise check again.
  private mutating func settle(_ path: String, status: FileStatus?) -> [Output] {
    // An answer for a file no longer settling (deleted or moved meanwhile) is stale.
    guard var file = settling[path], file.awaitingStatus else { return [] }
    guard let status else {
      // Gone before it settled; its delete or move event says what happened.
      settling[path] = nil
      return []
    }
    file.awaitingStatus = false
    if file.lastStatus == status {
      if now - file.stableSince >= configuration.settlePeriod {
        settling[path] = nil
        markChange()
        return [.fileComplete(path)]
      }
      file.nextCheck = file.stableSince + configuration.settlePeriod
    } else {
      file.lastStatus = status
      file.stableSince = now
      file.nextCheck = now + configuration.settlePeriod
    }
    settling[path] = file
    earliestCheck = min(earliestCheck ?? file.nextCheck, file.nextCheck)
    return []
  }

  /// Fires the timers due at `now`: stats of settling files, unpaired moves, the retrain.
  private mutating func expireTimers() -> [Output] {
    var outputs: [Output] = []
    for (cookie, move) in unpairedMoves.sorted(by: { $0.value.time < $1.value.time })
    where move.time + configuration.renamePairingWindow <= now {
      unpairedMoves[cookie] = nil
      outputs.append(.fileRemoved(move.path))
      markChange()
    }
    // This runs for every event, and a burst can leave thousands of files settling: look at
    // them only when the earliest check may be due.
    if let earliest = earliestCheck, earliest <= now {
      var due: [String] = []
      var remaining: Duration?
      for (path, file) in settling where !file.awaitingStatus {
        if file.nextCheck <= now {
          due.append(path)
        } else {
          remaining = min(remaining ?? file.nextCheck, file.nextCheck)
        }
      }
      earliestCheck = remaining
      for path in due.sorted() {
        settling[path]?.awaitingStatus = true
        outputs.append(.stat(path))
      }
    }
    if let due = retrainDue, due <= now, settling.isEmpty, unpairedMoves.isEmpty {
      retrainDue = nil
      outputs.append(.retrain)
    }
    return outputs
  }

  /// Restarts the quiet period: the retrain comes `debouncePeriod` after the last change.
  private mutating func markChange() {
    retrainDue = now + configuration.debouncePeriod
  }
}
