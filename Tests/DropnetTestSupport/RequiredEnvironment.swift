import Foundation
import XCTest

/// Whether tests that need root and real system services (journald, systemd-nspawn) must run.
///
/// They skip where they cannot run (not root, no container support), except in CI (`CI` set)
/// or when Tests/run-tests.sh says so as root (`DROPNET_REQUIRE_SYSTEMD_TEST=1`): there a
/// skip fails, so a broken set-up cannot pass as a green run.
public enum RequiredEnvironment {
  /// True in CI or when `DROPNET_REQUIRE_SYSTEMD_TEST=1`.
  public static var isRequired: Bool {
    let environment = ProcessInfo.processInfo.environment
    let ci = environment["CI"] ?? ""
    return (!ci.isEmpty && ci != "false" && ci != "0")
      || environment["DROPNET_REQUIRE_SYSTEMD_TEST"] == "1"
  }

  /// The error to throw when a test cannot run here: an `XCTSkip` with `reason`, or, when the
  /// environment is required, a failure with `reason` and why it is not a skip.
  public static func unavailable(_ reason: String) -> Error {
    guard isRequired else { return XCTSkip(reason) }
    return TestFiles.Missing(
      "\(reason); this test must run here (CI or DROPNET_REQUIRE_SYSTEMD_TEST=1 is set), so "
        + "its skip is a failure")
  }
}
