import DropnetTestSupport
import Foundation
import XCTest

@testable import DropnetJournal

/// sd_notify against a `$NOTIFY_SOCKET` the test binds itself.
final class SystemdNotifierTests: XCTestCase {
  override func tearDown() {
    unsetenv("NOTIFY_SOCKET")
    unsetenv("WATCHDOG_USEC")
    unsetenv("WATCHDOG_PID")
  }

  func testStatesArriveAtTheNotifySocket() throws {
    let listener = try DatagramListener(
      path: NSTemporaryDirectory() + "dropnet-notify-\(UUID().uuidString.prefix(8)).sock")
    setenv("NOTIFY_SOCKET", listener.path, 1)
    let notifier = SystemdNotifier()
    XCTAssertTrue(notifier.isListening)

    XCTAssertTrue(try notifier.ready(status: "idle: 5 classes,\n312 frames"))
    XCTAssertEqual(
      listener.receive(within: .seconds(5)), "READY=1\nSTATUS=idle: 5 classes, 312 frames")
    XCTAssertTrue(try notifier.status("training epoch 12/50, val acc 0.91"))
    XCTAssertEqual(
      listener.receive(within: .seconds(5)), "STATUS=training epoch 12/50, val acc 0.91")
    XCTAssertTrue(try notifier.watchdog())
    XCTAssertEqual(listener.receive(within: .seconds(5)), "WATCHDOG=1")
    XCTAssertTrue(try notifier.reloading())
    let reloading = try XCTUnwrap(listener.receive(within: .seconds(5)))
    XCTAssertTrue(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="), reloading)
    XCTAssertNotNil(UInt64(reloading.split(separator: "=").last!))
    XCTAssertTrue(try notifier.extendTimeout(by: .seconds(90)))
    XCTAssertEqual(listener.receive(within: .seconds(5)), "EXTEND_TIMEOUT_USEC=90000000")
    XCTAssertTrue(try notifier.stopping())
    XCTAssertEqual(listener.receive(within: .seconds(5)), "STOPPING=1")
  }

  func testWithoutServiceManagerNothingIsSentAndABadSocketIsAClearError() throws {
    unsetenv("NOTIFY_SOCKET")
    let notifier = SystemdNotifier()
    XCTAssertFalse(notifier.isListening)
    XCTAssertFalse(try notifier.ready())

    setenv("NOTIFY_SOCKET", NSTemporaryDirectory() + "no-such-dir/notify.sock", 1)
    XCTAssertThrowsError(try notifier.watchdog()) { error in
      XCTAssertEqual((error as? JournalError)?.code, .notifyFailed)
    }
  }

  func testWatchdogIntervalComesFromTheServiceManagersEnvironment() throws {
    let notifier = SystemdNotifier()
    XCTAssertNil(try notifier.watchdogInterval())
    setenv("WATCHDOG_USEC", "4000000", 1)
    setenv("WATCHDOG_PID", String(getpid()), 1)
    XCTAssertEqual(try notifier.watchdogInterval(), .seconds(4))
    // Meant for another process (a parent that did not unset it): not ours.
    setenv("WATCHDOG_PID", String(getppid()), 1)
    XCTAssertNil(try notifier.watchdogInterval())
    setenv("WATCHDOG_PID", String(getpid()), 1)
    setenv("WATCHDOG_USEC", "soon", 1)
    XCTAssertThrowsError(try notifier.watchdogInterval()) { error in
      XCTAssertEqual((error as? JournalError)?.code, .invalidWatchdogSetting)
    }
  }
}
