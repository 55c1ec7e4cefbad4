import XCTest

@testable import DropnetWatch

/// Tables of events at virtual times and the outputs each must give; no clocks, no sleeps.
final class SettleMachineTests: XCTestCase {
  typealias Event = SettleMachine.Event
  typealias Output = SettleMachine.Output

  /// One row: at `seconds`, feed `event`, expect exactly `outputs`.
  struct Step {
    var seconds: Double
    var event: Event
    var outputs: [Output]
    init(_ seconds: Double, _ event: Event, _ outputs: [Output] = []) {
      self.seconds = seconds
      self.event = event
      self.outputs = outputs
    }
  }

  // Settle 5 s, debounce 30 s, pairing 0.5 s: the defaults, spelled out so rows read plainly.
  let configuration = SettleMachine.Configuration(
    settlePeriod: .seconds(5), debouncePeriod: .seconds(30),
    renamePairingWindow: .milliseconds(500))

  static func size(_ bytes: Int64, mtime: Int64 = 100) -> SettleMachine.FileStatus {
    SettleMachine.FileStatus(size: bytes, modificationSeconds: mtime)
  }

  @discardableResult
  func run(
    _ steps: [Step], machine start: SettleMachine? = nil, file: StaticString = #filePath,
    line: UInt = #line
  ) -> SettleMachine {
    var machine = start ?? SettleMachine(configuration: configuration)
    for (index, step) in steps.enumerated() {
      let outputs = machine.handle(step.event, at: .milliseconds(Int64(step.seconds * 1000)))
      XCTAssertEqual(
        outputs, step.outputs, "row \(index) at \(step.seconds) s: \(step.event)", file: file,
        line: line)
    }
    return machine
  }

  func testStartupAsksForARescan() {
    run([Step(0, .started, [.rescan(.startup)])])
  }

  func testClosedFileCompletesAfterSettlingThenOneRetrainAfterTheQuietPeriod() {
    let machine = run([
      Step(0, .started, [.rescan(.startup)]),
      Step(1, .closedAfterWrite("/d/cat.mov"), [.stat("/d/cat.mov")]),
      Step(1, .status("/d/cat.mov", Self.size(10))),
      Step(5.9, .tick),  // not yet 5 s
      Step(6, .tick, [.stat("/d/cat.mov")]),
      Step(6, .status("/d/cat.mov", Self.size(10)), [.fileComplete("/d/cat.mov")]),
      Step(35.9, .tick),  // 30 s quiet not yet reached
      Step(36, .tick, [.retrain]),
      Step(100, .tick),  // only once
    ])
    XCTAssertNil(machine.nextDeadline)
  }

  func testSlowCopyIsNotCompleteUntilSizeAndTimeStopChanging() {
    // A movie written in chunks, each chunk a separate open/append/close.
    run([
      Step(0, .closedAfterWrite("/d/dog.mov"), [.stat("/d/dog.mov")]),
      Step(0, .status("/d/dog.mov", Self.size(100, mtime: 1))),
      Step(3, .closedAfterWrite("/d/dog.mov"), [.stat("/d/dog.mov")]),
      Step(3, .status("/d/dog.mov", Self.size(200, mtime: 4))),
      Step(8, .tick, [.stat("/d/dog.mov")]),
      // Grew again without a close event (one writer, still open): not complete.
      Step(8, .status("/d/dog.mov", Self.size(300, mtime: 9))),
      Step(13, .tick, [.stat("/d/dog.mov")]),
      // Same size, new mtime (rewritten in place): still not complete.
      Step(13, .status("/d/dog.mov", Self.size(300, mtime: 14))),
      Step(18, .tick, [.stat("/d/dog.mov")]),
      Step(18, .status("/d/dog.mov", Self.size(300, mtime: 14)), [.fileComplete("/d/dog.mov")]),
      Step(48, .tick, [.retrain]),
    ])
  }

  func testABurstOfTwentyMoviesGivesOneRetrain() {
    // One movie closes every 2 s, 38 s in all (longer than the debounce); every stat is
    // answered at once with the movie's final size, and time advances in 0.5 s steps.
    var machine = SettleMachine(configuration: configuration)
    func path(_ index: Int) -> String { "/d/label/clip-\(index).mov" }
    var outputs: [Output] = []
    for step in 0...240 {
      let time = Duration.milliseconds(step * 500)
      var pending = machine.handle(.tick, at: time)
      if step % 4 == 0 && step / 4 < 20 {
        pending += machine.handle(.closedAfterWrite(path(step / 4)), at: time)
      }
      while !pending.isEmpty {
        let output = pending.removeFirst()
        guard case .stat(let statPath) = output else {
          outputs.append(output)
          continue
        }
        let index = Int64(statPath.split(separator: "-").last!.dropLast(4))!
        pending += machine.handle(.status(statPath, Self.size(1000 + index)), at: time)
      }
    }
    XCTAssertEqual(outputs, (0..<20).map { Output.fileComplete(path($0)) } + [.retrain])
  }

  func testRetrainWaitsForFilesStillSettling() {
    run([
      Step(0, .deleted("/d/old.mov"), [.fileRemoved("/d/old.mov")]),
      Step(29, .closedAfterWrite("/d/new.mov"), [.stat("/d/new.mov")]),
      Step(29, .status("/d/new.mov", Self.size(1, mtime: 1))),
      Step(30, .tick),  // debounce from the delete is over, but new.mov is settling
      Step(34, .tick, [.stat("/d/new.mov")]),
      Step(34, .status("/d/new.mov", Self.size(2, mtime: 2))),
      Step(39, .tick, [.stat("/d/new.mov")]),
      Step(39, .status("/d/new.mov", Self.size(2, mtime: 2)), [.fileComplete("/d/new.mov")]),
      Step(68.9, .tick),
      Step(69, .tick, [.retrain]),
    ])
  }

  func testRenameInsideTheFolderPairsByCookie() {
    run([
      Step(0, .movedOut("/d/thumbs.mov", cookie: 7)),
      Step(
        0, .movedIn("/d/thumbs_up/thumbs.mov", cookie: 7),
        [
          .fileRemoved("/d/thumbs.mov"), .stat("/d/thumbs_up/thumbs.mov"),
        ]),
      Step(0, .status("/d/thumbs_up/thumbs.mov", Self.size(5))),
      Step(5, .tick, [.stat("/d/thumbs_up/thumbs.mov")]),
      Step(
        5, .status("/d/thumbs_up/thumbs.mov", Self.size(5)),
        [.fileComplete("/d/thumbs_up/thumbs.mov")]),
      Step(35, .tick, [.retrain]),
    ])
  }

  func testMovedOutWithoutPartnerIsRemovedAfterThePairingWindow() {
    let machine = run([
      Step(0, .movedOut("/d/cat.mov", cookie: 9)),
      Step(0.4, .movedIn("/d/dog.mov", cookie: 10), [.stat("/d/dog.mov")]),  // other cookie
      Step(0.4, .status("/d/dog.mov", nil)),  // and gone again at once
      Step(0.5, .tick, [.fileRemoved("/d/cat.mov")]),
    ])
    XCTAssertEqual(machine.nextDeadline, .seconds(30.5))
  }

  func testMovedInFromOutsideSettlesLikeAClosedFile() {
    run([
      Step(0, .movedIn("/d/cat/a.mov", cookie: 3), [.stat("/d/cat/a.mov")]),
      Step(0, .status("/d/cat/a.mov", Self.size(7))),
      Step(5, .tick, [.stat("/d/cat/a.mov")]),
      Step(5, .status("/d/cat/a.mov", Self.size(7)), [.fileComplete("/d/cat/a.mov")]),
    ])
  }

  func testFileDeletedWhileSettlingIsNeverComplete() {
    let machine = run([
      Step(0, .closedAfterWrite("/d/a.mov"), [.stat("/d/a.mov")]),
      Step(0, .status("/d/a.mov", Self.size(7))),
      Step(2, .deleted("/d/a.mov"), [.fileRemoved("/d/a.mov")]),
      Step(5, .tick),
      Step(5, .status("/d/a.mov", Self.size(7))),  // a stale answer is ignored
    ])
    XCTAssertEqual(machine.settlingPaths, [])
  }

  func testNewFolderIsWatchedAndItsFilesSettle() {
    run([
      Step(0, .folderCreated("/d/peace"), [.watchFolder("/d/peace")]),
      Step(0, .found("/d/peace/one.mov"), [.stat("/d/peace/one.mov")]),
      Step(0, .status("/d/peace/one.mov", Self.size(3))),
      Step(5, .tick, [.stat("/d/peace/one.mov")]),
      Step(5, .status("/d/peace/one.mov", Self.size(3)), [.fileComplete("/d/peace/one.mov")]),
    ])
  }

  func testOverflowAndRemovedFoldersAskForRescansAndTheCallerReportsChanges() {
    let machine = run([
      Step(0, .closedAfterWrite("/d/cat/a.mov"), [.stat("/d/cat/a.mov")]),
      Step(0, .closedAfterWrite("/d/b.mov"), [.stat("/d/b.mov")]),
      Step(1, .movedOut("/d/c.mov", cookie: 4)),
      Step(1.1, .queueOverflow, [.rescan(.queueOverflow)]),
      Step(2, .tick),  // the unpaired move was forgotten: the rescan finds what is gone
      Step(3, .folderRemoved("/d/cat"), [.rescan(.folderRemoved)]),
      Step(3, .status("/d/cat/a.mov", Self.size(1))),  // stale: cat/ is gone
      Step(4, .changed),  // the rescan found a difference
    ])
    XCTAssertEqual(machine.settlingPaths, ["/d/b.mov"])
    XCTAssertEqual(machine.nextDeadline, nil)  // b.mov awaits its stat answer
  }

  func testRescanWithoutChangeGivesNoRetrain() {
    let machine = run([
      Step(0, .started, [.rescan(.startup)]),
      Step(1000, .tick),
    ])
    XCTAssertNil(machine.nextDeadline)
  }

  func testLateTickFiresOverdueTimersBeforeTheEvent() {
    run([
      Step(0, .deleted("/d/a.mov"), [.fileRemoved("/d/a.mov")]),
      // The caller slept through the retrain deadline; the retrain comes first, then the
      // new change arms the next one.
      Step(40, .deleted("/d/b.mov"), [.retrain, .fileRemoved("/d/b.mov")]),
      Step(70, .tick, [.retrain]),
    ])
  }

  func testNextDeadlineFollowsTheEarliestTimer() {
    var machine = SettleMachine(configuration: configuration)
    XCTAssertNil(machine.nextDeadline)
    _ = machine.handle(.closedAfterWrite("/d/a.mov"), at: .seconds(1))
    XCTAssertNil(machine.nextDeadline)  // waiting for the stat answer, not for time
    _ = machine.handle(.status("/d/a.mov", Self.size(1)), at: .seconds(1))
    XCTAssertEqual(machine.nextDeadline, .seconds(6))
    _ = machine.handle(.movedOut("/d/b.mov", cookie: 1), at: .seconds(2))
    XCTAssertEqual(machine.nextDeadline, .milliseconds(2500))
  }
}
