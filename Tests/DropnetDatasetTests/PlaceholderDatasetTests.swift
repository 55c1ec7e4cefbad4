import XCTest
final class PlaceholderDatasetTests: XCTestCase { func testBuilds() { XCTAssertTrue(true) } }
