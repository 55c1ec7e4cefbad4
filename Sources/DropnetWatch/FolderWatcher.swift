import CInotifyTools

#if canImport(Glibc)
  import Glibc
#endif

/// Watches a drop folder and its label subfolders with inotify (through libinotifytools) and
/// turns what happens there into decisions, using a `SettleMachine`.
///
/// The system-call half of the watcher: it reads inotify events, carries out the machine's
/// effects (stats files, adds watches and scans new folders) and hands back only decisions:
/// `.fileComplete`, `.fileRemoved`, `.rescan` and `.retrain`. The first decision is always
/// `.rescan(.startup)`.
///
/// Watched: the drop folder and the folders directly inside it (label folders), including
/// ones created or moved in later; a new folder is watched first and then scanned, because
/// files can arrive in it before the watch exists. Deeper folders are not watched (the drop
/// folder contract ignores them).
///
/// libinotifytools keeps one inotify instance per process, so only one `FolderWatcher` may
/// exist at a time; a second one throws `.alreadyWatching`. Use it from one thread.
public final class FolderWatcher {
  /// The watched drop folder, without a trailing slash.
  public let dropFolder: String
  private var machine: SettleMachine
  private let clock = ContinuousClock()
  private let startTime: ContinuousClock.Instant
  /// libinotifytools' inotify descriptor, polled and read here (see `readEvents`).
  private let inotifyDescriptor: Int32
  /// Watched folders by watch descriptor (paths without a trailing slash).
  private var foldersByWatch: [Int32: String] = [:]
  private var readyDecisions: [SettleMachine.Output] = []

  /// The events asked of the kernel for every watched folder.
  private static let eventMask: UInt32 =
    UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_FROM) | UInt32(IN_MOVED_TO) | UInt32(IN_DELETE)
    | UInt32(IN_CREATE) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_ONLYDIR)

  /// Starts watching `dropFolder` (which must exist) and its label subfolders.
  public init(dropFolder: String, configuration: SettleMachine.Configuration = .init()) throws {
    var folder = dropFolder
    while folder.count > 1 && folder.hasSuffix("/") { folder.removeLast() }
    self.dropFolder = folder
    self.machine = SettleMachine(configuration: configuration)
    self.startTime = clock.now

    guard FolderWatcher.isFolder(folder) else {
      throw WatchError(
        .missingFolder, path: folder, "the drop folder does not exist; create it and start again")
    }
    guard FolderWatcher.claimProcessInstance() else {
      throw WatchError(
        .alreadyWatching,
        "another FolderWatcher is running in this process; libinotifytools allows one at a time")
    }
    let before = FolderWatcher.inotifyDescriptors()
    guard inotifytools_initialize() == 1 else {
      let code = inotifytools_error()
      FolderWatcher.releaseProcessInstance()
      throw WatchError(
        .inotifyUnavailable,
        "inotify could not start (\(String(cString: strerror(code)))); raise "
          + "fs.inotify.max_user_instances or stop other watchers")
    }
    let created = FolderWatcher.inotifyDescriptors().subtracting(before)
    guard created.count == 1, let descriptor = created.first else {
      inotifytools_cleanup()
      FolderWatcher.releaseProcessInstance()
      throw WatchError(
        .inotifyUnavailable,
        "could not tell libinotifytools' inotify descriptor apart from \(created.count) new ones")
    }
    inotifyDescriptor = descriptor
    // From here on every property is set, so a throw runs deinit, which cleans up.
    try addWatch(folder)
    for entry in FolderWatcher.entries(of: folder) where entry.isFolder {
      try addWatch(entry.path)
    }
    feed(.started)
  }

  deinit {
    inotifytools_cleanup()
    FolderWatcher.releaseProcessInstance()
  }

  /// Files closed or moved in but not yet complete (still inside their settle period), sorted.
  public var settlingPaths: [String] { machine.settlingPaths }

  /// The folders watched now, sorted.
  public var watchedFolders: [String] { foldersByWatch.values.sorted() }

  /// Waits until at least one decision is ready or `timeout` has passed, and returns the
  /// decisions in order (empty on timeout). Timers (settling, debounce) run only inside this
  /// call, so call it again soon after it returns.
  public func waitForDecisions(timeout: Duration) throws -> [SettleMachine.Output] {
    let deadline = clock.now + timeout
    while readyDecisions.isEmpty {
      let now = clock.now
      if now >= deadline { break }
      var wait = deadline - now
      if let next = machine.nextDeadline { wait = min(wait, max(.zero, next - elapsed(now))) }
      if try pollInotify(wait) {
        for event in try readEvents() { translate(event) }
      }
      feed(.tick)
    }
    defer { readyDecisions.removeAll() }
    return readyDecisions
  }

  /// Tells the watcher the caller found a change by other means (a rescan after `.rescan`
  /// that changed the dataset), so a `.retrain` follows after the quiet period.
  public func noteChange() {
    feed(.changed)
  }

  // MARK: Events

  /// One event as the kernel wrote it.
  private struct RawEvent {
    var watch: Int32
    var mask: UInt32
    var cookie: UInt32
    var name: String
  }

  /// Reads the events waiting on the inotify descriptor. libinotifytools manages the watches,
  /// but its reader cannot wait less than a second, nor say whether it holds buffered events
  /// (its timeout 0 blocks), so the events are read here, straight from the kernel.
  private func readEvents() throws -> [RawEvent] {
    // Room for many events: each is 16 bytes plus its name (at most NAME_MAX + 1, padded).
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    let count = buffer.withUnsafeMutableBytes { read(inotifyDescriptor, $0.baseAddress, $0.count) }
    if count < 0 {
      if errno == EINTR || errno == EAGAIN { return [] }
      throw WatchError(
        .pollFailed, path: dropFolder,
        "reading inotify events failed: \(String(cString: strerror(errno)))")
    }
    var events: [RawEvent] = []
    buffer.withUnsafeBytes { bytes in
      let headerSize = MemoryLayout<inotify_event>.size
      var offset = 0
      while offset + headerSize <= count {
        let header = bytes.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
        let nameBytes = bytes[(offset + headerSize)..<(offset + headerSize + Int(header.len))]
        // The name is NUL-padded to an aligned length.
        let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
        events.append(
          RawEvent(watch: header.wd, mask: header.mask, cookie: header.cookie, name: name))
        offset += headerSize + Int(header.len)
      }
    }
    return events
  }

  /// Turns one inotify event into machine events.
  private func translate(_ event: RawEvent) {
    let mask = event.mask
    let watch = event.watch
    func has(_ flag: Int32) -> Bool { mask & UInt32(bitPattern: flag) != 0 }

    if watch < 0 || has(IN_Q_OVERFLOW) {
      feed(.queueOverflow)
      return
    }
    guard let folder = foldersByWatch[watch] else { return }
    if has(IN_IGNORED) {
      // The kernel dropped the watch (folder deleted or unmounted); the parent's event or a
      // self event already said why.
      foldersByWatch[watch] = nil
      return
    }
    if has(IN_DELETE_SELF) || has(IN_MOVE_SELF) {
      // Label folders are reported by the drop folder's own events; only the root matters.
      if folder == dropFolder {
        if has(IN_MOVE_SELF) { removeWatch(watch) }
        feed(.folderRemoved(folder))
      }
      return
    }
    guard !event.name.isEmpty else { return }
    let path = folder + "/" + event.name
    let cookie = event.cookie

    if has(IN_ISDIR) {
      // Only folders directly inside the drop folder are label folders.
      guard folder == dropFolder else { return }
      if has(IN_CREATE) || has(IN_MOVED_TO) {
        feed(.folderCreated(path))
      } else if has(IN_DELETE) || has(IN_MOVED_FROM) {
        // A folder moved away keeps its watch (it follows the inode): drop it.
        if let moved = foldersByWatch.first(where: { $0.value == path })?.key {
          removeWatch(moved)
        }
        feed(.folderRemoved(path))
      }
      return
    }
    if has(IN_CLOSE_WRITE) {
      feed(.closedAfterWrite(path))
    } else if has(IN_MOVED_TO) {
      feed(.movedIn(path, cookie: cookie))
    } else if has(IN_MOVED_FROM) {
      feed(.movedOut(path, cookie: cookie))
    } else if has(IN_DELETE) {
      feed(.deleted(path))
    }
  }

  /// Feeds the machine and carries out its effects until only decisions are left.
  private func feed(_ event: SettleMachine.Event) {
    var events = [event]
    while !events.isEmpty {
      let next = events.removeFirst()
      for output in machine.handle(next, at: elapsed(clock.now)) {
        switch output {
        case .stat(let path):
          events.append(.status(path, FolderWatcher.status(of: path)))
        case .watchFolder(let path):
          // Watch first, then scan: a file that lands in between is seen twice, never missed.
          do {
            try addWatch(path)
          } catch {
            events.append(.folderRemoved(path))
            continue
          }
          for entry in FolderWatcher.entries(of: path) where entry.isRegularFile {
            events.append(.found(entry.path))
          }
        case .rescan(let reason):
          if reason != .startup { rewatchFolders() }
          readyDecisions.append(output)
        case .fileComplete, .fileRemoved, .retrain:
          readyDecisions.append(output)
        }
      }
    }
  }

  // MARK: Watches

  private func addWatch(_ folder: String) throws {
    if foldersByWatch.values.contains(folder) { return }
    // libinotifytools names folders with a trailing slash; give it that form.
    guard inotifytools_watch_file(folder + "/", Int32(bitPattern: FolderWatcher.eventMask)) == 1
    else {
      let code = inotifytools_error()
      throw WatchError(
        .watchFailed, path: folder,
        "cannot watch (\(String(cString: strerror(code)))); if the limit is reached, raise "
          + "fs.inotify.max_user_watches")
    }
    let watch = inotifytools_wd_from_filename(folder + "/")
    if watch >= 0 { foldersByWatch[Int32(watch)] = folder }
  }

  private func removeWatch(_ watch: Int32) {
    _ = inotifytools_remove_watch_by_wd(watch)
    foldersByWatch[watch] = nil
  }

  /// After lost events or a removed folder: watch the drop folder and label folders again.
  private func rewatchFolders() {
    guard FolderWatcher.isFolder(dropFolder) else { return }
    try? addWatch(dropFolder)
    for entry in FolderWatcher.entries(of: dropFolder) where entry.isFolder {
      try? addWatch(entry.path)
    }
  }

  /// Waits up to `wait` (rounded up to whole milliseconds) for the inotify descriptor; true
  /// when events are waiting.
  private func pollInotify(_ wait: Duration) throws -> Bool {
    let (seconds, attoseconds) = wait.components
    let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    var descriptor = pollfd(fd: inotifyDescriptor, events: Int16(POLLIN), revents: 0)
    let result = poll(&descriptor, 1, Int32(clamping: milliseconds))
    if result < 0 && errno != EINTR {
      throw WatchError(
        .pollFailed, path: dropFolder,
        "waiting for inotify failed: \(String(cString: strerror(errno)))")
    }
    return result > 0
  }

  private func elapsed(_ instant: ContinuousClock.Instant) -> Duration { instant - startTime }

  // MARK: File system

  private struct Entry {
    var path: String
    var isFolder: Bool
    var isRegularFile: Bool
  }

  /// The entries of a folder (not `.` or `..`), by lstat, sorted by name; empty if unreadable.
  private static func entries(of folder: String) -> [Entry] {
    guard let directory = opendir(folder) else { return [] }
    defer { closedir(directory) }
    var entries: [Entry] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
        String(cString: bytes.bindMemory(to: CChar.self).baseAddress!)
      }
      if name == "." || name == ".." { continue }
      let path = folder + "/" + name
      var info = stat()
      guard lstat(path, &info) == 0 else { continue }
      let type = info.st_mode & S_IFMT
      entries.append(Entry(path: path, isFolder: type == S_IFDIR, isRegularFile: type == S_IFREG))
    }
    return entries.sorted { $0.path < $1.path }
  }

  private static func isFolder(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
  }

  /// Size and modification time, or nil when the file is gone.
  private static func status(of path: String) -> SettleMachine.FileStatus? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return SettleMachine.FileStatus(
      size: Int64(info.st_size), modificationSeconds: Int64(info.st_mtim.tv_sec),
      modificationNanoseconds: Int64(info.st_mtim.tv_nsec))
  }

  /// The open inotify descriptors of this process, from /proc/self/fd.
  private static func inotifyDescriptors() -> Set<Int32> {
    guard let directory = opendir("/proc/self/fd") else { return [] }
    defer { closedir(directory) }
    var descriptors: Set<Int32> = []
    var target = [CChar](repeating: 0, count: 64)
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
        String(cString: bytes.bindMemory(to: CChar.self).baseAddress!)
      }
      guard let descriptor = Int32(name) else { continue }
      let length = readlink("/proc/self/fd/" + name, &target, target.count - 1)
      guard length > 0 else { continue }
      let link = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
      if link == "anon_inode:inotify" { descriptors.insert(descriptor) }
    }
    return descriptors
  }

  // MARK: One per process

  private static let instanceLock = ProcessInstanceLock()

  private static func claimProcessInstance() -> Bool { instanceLock.claim() }
  private static func releaseProcessInstance() { instanceLock.release() }
}
