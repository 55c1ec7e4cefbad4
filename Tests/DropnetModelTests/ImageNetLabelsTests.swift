import DropnetArchitecture
import Foundation
import XCTest

@testable import DropnetModel

final class ImageNetLabelsTests: XCTestCase {
  func testThousandNamesPlusBackground() {
    XCTAssertEqual(ImageNetLabels.names.count, 1000)
    // ImageNet has two classes called "crane": the bird (134) and the machine (517).
    XCTAssertEqual(Set(ImageNetLabels.names).count, 999)
    XCTAssertEqual(ImageNetLabels.names[134], "crane")
    XCTAssertEqual(ImageNetLabels.names[517], "crane")
    XCTAssertEqual(ImageNetLabels.withBackground.count, MobileNetV1Architecture.imageNetClassCount)
    XCTAssertEqual(ImageNetLabels.withBackground.first, "background")
  }

  func testModelIndicesAreShiftedByTheBackgroundClass() {
    XCTAssertEqual(ImageNetLabels.label(forModelIndex: 0), "background")
    XCTAssertEqual(ImageNetLabels.label(forModelIndex: 1), "tench, Tinca tinca")
    XCTAssertEqual(ImageNetLabels.label(forModelIndex: 1000), ImageNetLabels.names[999])
    XCTAssertNil(ImageNetLabels.label(forModelIndex: 1001))
    XCTAssertNil(ImageNetLabels.label(forModelIndex: -1))
    XCTAssertEqual(ImageNetLabels.shortName("tench, Tinca tinca"), "tench")
    XCTAssertEqual(ImageNetLabels.shortName("espresso"), "espresso")
  }

  func testLabelsAgreeWithTheReferenceFixtures() throws {
    // make_reference.py reads the label file itself; the indices TensorFlow's top-5 report
    // must name the same classes here (e.g. 968 = espresso for the coffee photo).
    for photo in ModelTestSupport.referencePhotos {
      let record = try ModelTestSupport.referenceJSON("\(photo).json")
      let top5 = try XCTUnwrap(record["top5"] as? [[String: Any]])
      for entry in top5 {
        let index = try XCTUnwrap(entry["index"] as? Int)
        XCTAssertEqual(ImageNetLabels.label(forModelIndex: index), entry["label"] as? String)
      }
    }
    XCTAssertEqual(ImageNetLabels.label(forModelIndex: 968), "espresso")
  }
}
