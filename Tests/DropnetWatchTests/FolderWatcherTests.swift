import Foundation
import XCTest

@testable import DropnetWatch

/// Real inotify on a temporary folder; every wait has a deadline, none is a fixed sleep.
final class FolderWatcherTests: XCTestCase {
  typealias Output = SettleMachine.Output

  // Short periods keep the tests quick; the pairing window only has to cover one read.
  let configuration = SettleMachine.Configuration(
    settlePeriod: .milliseconds(300), debouncePeriod: .milliseconds(600),
    renamePairingWindow: .milliseconds(100))
  var root = ""
  var drop = ""
  var outside = ""

  override func setUpWithError() throws {
    root = NSTemporaryDirectory() + "dropnet-watch-" + UUID().uuidString
    drop = root + "/drop"
    outside = root + "/outside"
    try FileManager.default.createDirectory(atPath: drop, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: root)
  }

  /// Writes a file with open, write, close (one `IN_CLOSE_WRITE`).
  func write(_ path: String, bytes: Int, append: Bool = false) throws {
    let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
    let descriptor = open(path, flags, 0o644)
    guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    defer { close(descriptor) }
    let data = [UInt8](repeating: 0x5a, count: bytes)
    XCTAssertEqual(data.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, bytes) }, bytes)
  }

  func rename(_ from: String, _ to: String) {
    XCTAssertEqual(Glibc.rename(from, to), 0, "rename \(from) -> \(to)")
  }

  /// Collects decisions until one satisfies `done`, or fails after `deadline`.
  @discardableResult
  func awaitDecisions(
    _ watcher: FolderWatcher, until done: (Output) -> Bool, deadline: Duration = .seconds(10),
    file: StaticString = #filePath, line: UInt = #line
  ) throws -> [Output] {
    let clock = ContinuousClock()
    let end = clock.now + deadline
    var seen: [Output] = []
    while clock.now < end {
      let decisions = try watcher.waitForDecisions(timeout: end - clock.now)
      seen += decisions
      if decisions.contains(where: done) { return seen }
    }
    XCTFail("no matching decision within \(deadline); saw \(seen)", file: file, line: line)
    return seen
  }

  /// All decisions that come within `window` (the watcher's own bounded wait).
  func decisions(_ watcher: FolderWatcher, within window: Duration) throws -> [Output] {
    let clock = ContinuousClock()
    let end = clock.now + window
    var seen: [Output] = []
    while clock.now < end { seen += try watcher.waitForDecisions(timeout: end - clock.now) }
    return seen
  }

  func testStartsWithRescanThenReportsAClosedFileAndRetrainsOnce() throws {
    try FileManager.default.createDirectory(
      atPath: drop + "/cat", withIntermediateDirectories: false)
    let watcher = try FolderWatcher(dropFolder: drop + "/", configuration: configuration)
    XCTAssertEqual(watcher.watchedFolders, [drop, drop + "/cat"])
    XCTAssertEqual(try watcher.waitForDecisions(timeout: .zero), [.rescan(.startup)])

    try write(drop + "/cat/a.mov", bytes: 1000)
    try write(drop + "/dog.mov", bytes: 2000)
    let seen = try awaitDecisions(watcher, until: { $0 == .retrain })
    XCTAssertEqual(
      Set(seen), [.fileComplete(drop + "/cat/a.mov"), .fileComplete(drop + "/dog.mov"), .retrain])
    XCTAssertEqual(seen.last, .retrain)
    XCTAssertEqual(seen.count, 3)
  }

  func testMoveInMoveOutRenameAndDelete() throws {
    try FileManager.default.createDirectory(
      atPath: drop + "/cat", withIntermediateDirectories: false)
    let watcher = try FolderWatcher(dropFolder: drop, configuration: configuration)
    _ = try watcher.waitForDecisions(timeout: .zero)

    // Moved in from outside: settles like a closed file.
    try write(outside + "/one.mov", bytes: 10)
    rename(outside + "/one.mov", drop + "/one.mov")
    try awaitDecisions(watcher, until: { $0 == .fileComplete(self.drop + "/one.mov") })

    // Renamed inside the drop folder: the old name goes at once, the new one settles.
    rename(drop + "/one.mov", drop + "/cat/one.mov")
    let renamed = try awaitDecisions(
      watcher, until: { $0 == .fileComplete(self.drop + "/cat/one.mov") })
    XCTAssertEqual(
      renamed.filter { $0 != .retrain },
      [.fileRemoved(drop + "/one.mov"), .fileComplete(drop + "/cat/one.mov")])

    // Moved out: removed once the pairing window has passed without a partner.
    rename(drop + "/cat/one.mov", outside + "/one.mov")
    try awaitDecisions(watcher, until: { $0 == .fileRemoved(self.drop + "/cat/one.mov") })

    // Deleted.
    try write(drop + "/two.mov", bytes: 10)
    try awaitDecisions(watcher, until: { $0 == .fileComplete(self.drop + "/two.mov") })
    XCTAssertEqual(unlink(drop + "/two.mov"), 0)
    try awaitDecisions(watcher, until: { $0 == .fileRemoved(self.drop + "/two.mov") })
  }

  func testNewSubfolderIsWatchedAndScannedForFilesThatCameFirst() throws {
    let watcher = try FolderWatcher(dropFolder: drop, configuration: configuration)
    _ = try watcher.waitForDecisions(timeout: .zero)

    // A folder that arrives with a file already in it: no event ever names the file.
    try FileManager.default.createDirectory(
      atPath: outside + "/peace", withIntermediateDirectories: false)
    try write(outside + "/peace/clip.mov", bytes: 64)
    rename(outside + "/peace", drop + "/peace")
    try awaitDecisions(watcher, until: { $0 == .fileComplete(self.drop + "/peace/clip.mov") })
    XCTAssertTrue(watcher.watchedFolders.contains(drop + "/peace"))

    // The watch is live: a later file in it is seen by its own event.
    try write(drop + "/peace/second.mov", bytes: 64)
    try awaitDecisions(watcher, until: { $0 == .fileComplete(self.drop + "/peace/second.mov") })

    // A folder created in place, written to at once.
    try FileManager.default.createDirectory(
      atPath: drop + "/wave", withIntermediateDirectories: false)
    try write(drop + "/wave/hello.mov", bytes: 64)
    let seen = try awaitDecisions(watcher, until: { $0 == .retrain })
    XCTAssertEqual(seen.filter { $0 == .fileComplete(drop + "/wave/hello.mov") }.count, 1)

    // Folders inside label folders are not label folders: not watched.
    try FileManager.default.createDirectory(
      atPath: drop + "/wave/deeper", withIntermediateDirectories: false)
    try write(drop + "/wave/deeper/ignored.mov", bytes: 64)
    XCTAssertEqual(try decisions(watcher, within: .milliseconds(800)), [])
    XCTAssertFalse(watcher.watchedFolders.contains(drop + "/wave/deeper"))
  }

  func testSlowCopyIsNotCompleteUntilItSettles() throws {
    // A settle period four times the gap between chunks, so a busy machine cannot make a gap
    // look like the end of the copy.
    var configuration = self.configuration
    configuration.settlePeriod = .milliseconds(600)
    let watcher = try FolderWatcher(dropFolder: drop, configuration: configuration)
    _ = try watcher.waitForDecisions(timeout: .zero)
    let clock = ContinuousClock()
    let movie = drop + "/slow.mov"

    // Eight chunks, each opened, appended and closed, 150 ms apart: 1.05 s of copying, well
    // over the 600 ms settle period; nothing may be reported while the size keeps changing.
    let copyStart = clock.now
    var lastWrite = copyStart
    for chunk in 0..<8 {
      try write(movie, bytes: 4096, append: chunk > 0)
      lastWrite = clock.now
      XCTAssertEqual(try decisions(watcher, within: .milliseconds(150)), [], "chunk \(chunk)")
    }
    XCTAssertGreaterThan(clock.now - copyStart, configuration.settlePeriod + .milliseconds(300))

    // One writer that keeps its file open: no close, so not even settling yet.
    let held = drop + "/held.mov"
    let descriptor = open(held, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    XCTAssertGreaterThanOrEqual(descriptor, 0)
    let seen = try awaitDecisions(watcher, until: { $0 == .fileComplete(movie) })
    XCTAssertGreaterThanOrEqual(clock.now - lastWrite, configuration.settlePeriod)
    XCTAssertFalse(seen.contains(.fileComplete(held)))
    let bytes = [UInt8](repeating: 1, count: 1024)
    for _ in 0..<3 {
      XCTAssertEqual(bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, 1024) }, 1024)
      XCTAssertEqual(
        try decisions(watcher, within: .milliseconds(400)).filter { $0 != .retrain }, [])
    }
    close(descriptor)
    try awaitDecisions(watcher, until: { $0 == .fileComplete(held) })
  }

  func testRemovedLabelFolderAsksForRescan() throws {
    try FileManager.default.createDirectory(
      atPath: drop + "/cat", withIntermediateDirectories: false)
    try write(drop + "/cat/a.mov", bytes: 10)
    let watcher = try FolderWatcher(dropFolder: drop, configuration: configuration)
    XCTAssertEqual(try watcher.waitForDecisions(timeout: .zero), [.rescan(.startup)])

    // Moved away: only the parent hears of it; its files vanish silently.
    rename(drop + "/cat", outside + "/cat")
    try awaitDecisions(watcher, until: { $0 == .rescan(.folderRemoved) })
    XCTAssertEqual(watcher.watchedFolders, [drop])

    // Moved away files are not followed: changes there are not reported.
    try write(outside + "/cat/b.mov", bytes: 10)
    XCTAssertEqual(try decisions(watcher, within: .milliseconds(500)), [])

    // The drop folder itself deleted: its files are removed, then everything must be rescanned.
    try write(drop + "/c.mov", bytes: 10)
    try awaitDecisions(watcher, until: { $0 == .fileComplete(self.drop + "/c.mov") })
    try FileManager.default.removeItem(atPath: drop)
    let seen = try awaitDecisions(watcher, until: { $0 == .rescan(.folderRemoved) })
    XCTAssertTrue(seen.contains(.fileRemoved(drop + "/c.mov")), "\(seen)")
    _ = try decisions(watcher, within: .milliseconds(200))
    XCTAssertEqual(watcher.watchedFolders, [])
  }

  func testAChangeFoundByTheStartupRescanLeadsToOneRetrain() throws {
    let watcher = try FolderWatcher(dropFolder: drop, configuration: configuration)
    XCTAssertEqual(try watcher.waitForDecisions(timeout: .zero), [.rescan(.startup)])
    let clock = ContinuousClock()
    let noted = clock.now
    watcher.noteChange()
    watcher.noteChange()
    XCTAssertEqual(try awaitDecisions(watcher, until: { $0 == .retrain }), [.retrain])
    XCTAssertGreaterThanOrEqual(clock.now - noted, configuration.debouncePeriod)
  }

  func testRenamedLabelFolderIsRescannedAndWatchedUnderItsNewName() throws {
    try FileManager.default.createDirectory(
      atPath: drop + "/cat", withIntermediateDirectories: false)
    try write(drop + "/cat/a.mov", bytes: 10)
    let watcher = try FolderWatcher(dropFolder: drop, configuration: configuration)
    _ = try watcher.waitForDecisions(timeout: .zero)

    rename(drop + "/cat", drop + "/kitty")
    let seen = try awaitDecisions(
      watcher, until: { $0 == .fileComplete(self.drop + "/kitty/a.mov") })
    XCTAssertEqual(seen.first, .rescan(.folderRemoved))
    XCTAssertEqual(watcher.watchedFolders, [drop, drop + "/kitty"])

    try write(drop + "/kitty/b.mov", bytes: 10)
    try awaitDecisions(watcher, until: { $0 == .fileComplete(self.drop + "/kitty/b.mov") })
  }

  func testQueueOverflowAsksForRescan() throws {
    let watcher = try FolderWatcher(dropFolder: drop, configuration: configuration)
    _ = try watcher.waitForDecisions(timeout: .zero)
    // Each new file queues two events (create, close after write); more than the kernel's
    // per-instance queue (fs.inotify.max_queued_events) while the watcher is not reading.
    let limit = try String(
      contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8)
    let fileCount = (Int(limit.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 16384) / 2 + 100
    var failedOpens = 0
    for index in 0..<fileCount {
      let descriptor = open(drop + "/f\(index).tmp", O_WRONLY | O_CREAT, 0o644)
      if descriptor < 0 { failedOpens += 1 } else { close(descriptor) }
    }
    XCTAssertEqual(failedOpens, 0)
    try awaitDecisions(watcher, until: { $0 == .rescan(.queueOverflow) }, deadline: .seconds(30))
  }

  func testOneWatcherPerProcessAndAMissingFolderIsAClearError() throws {
    XCTAssertThrowsError(try FolderWatcher(dropFolder: root + "/missing")) { error in
      XCTAssertEqual((error as? WatchError)?.code, .missingFolder)
    }
    let watcher = try FolderWatcher(dropFolder: drop, configuration: configuration)
    XCTAssertThrowsError(try FolderWatcher(dropFolder: drop)) { error in
      XCTAssertEqual((error as? WatchError)?.code, .alreadyWatching)
    }
    XCTAssertEqual(try watcher.waitForDecisions(timeout: .zero), [.rescan(.startup)])
  }
}
