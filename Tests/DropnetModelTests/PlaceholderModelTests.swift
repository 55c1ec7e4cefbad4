import XCTest

final class PlaceholderModelTests: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
