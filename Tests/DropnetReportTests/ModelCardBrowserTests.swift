import DropnetReport
import DropnetTestSupport
import Foundation
import XCTest

/// The page as a person sees it: rendered by headless Chromium, every picture loaded, nothing
/// in the console, labels shown exactly as written, figures as in the report.
final class ModelCardBrowserTests: XCTestCase {
  func testChromiumShowsEveryPictureTheLabelsAndTheReportsFigures() throws {
    let state = try CardFixtures.stateFolder()
    let card = try CardFixtures.card(state: state)
    let history = [try CardFixtures.card(state: state, version: 2), card]
    let out = try TestFiles.temporaryFolder("page").appendingPathComponent("Signs.html")
    try ModelCardPage.write(
      ModelCardPage(
        card: card, history: history, pictures: ModelCardPictures(stateFolder: state),
        location: .besideModel
      ).html, to: out)

    let browser = try HeadlessBrowser()
    let page = try browser.load(out, evaluating: ShownModelCard.script)
    XCTAssertEqual(page.errors, [])
    let shown = try ShownModelCard(page.value)
    XCTAssertEqual(shown.title, "Signs v3 · dropnet model card")
    XCTAssertEqual(shown.sections, ["Model", "Data", "Training", "Quality", "History"])
    // 5 frame thumbnails, 1 validation and 1 held-out mistake, the curves; the two frames
    // whose files are gone are placeholders, not broken images.
    XCTAssertEqual(shown.pictures.count, 8, "\(shown.pictures.map(\.alt))")
    XCTAssertEqual(shown.pictures.filter { !$0.loaded }.map(\.alt), [])
    XCTAssertEqual(shown.labels, CardFixtures.labels)
    let report = try XCTUnwrap(
      try JSONSerialization.jsonObject(with: try card.report!.encoded()) as? [String: Any])
    XCTAssertEqual(shown.differences(from: report), [])
  }
}
