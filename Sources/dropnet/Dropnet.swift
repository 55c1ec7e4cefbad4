import ArgumentParser
import DropnetModel

@main
struct Dropnet: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dropnet",
    abstract: "Turn labelled movies into an on-device image classifier.",
    discussion: """
      Drop movies into a folder: `thumbs_up.mov` (the label is the file name) or
      `thumbs_up/clip-2.mov` (the label is the folder name). dropnet extracts frames,
      drops blurred and near-duplicate ones, fine-tunes MobileNet v1 and publishes a
      CoreML model.

      Start with `dropnet extract --drop DIR --state DIR`; see README.md for the whole flow.
      """,
    version: DropnetVersion.string,
    subcommands: [
      ExtractCommand.self, TrainCommand.self, WeightsCommand.self, PredictCommand.self,
      ExportCommand.self, ServeCommand.self, StatusCommand.self, RebuildCommand.self,
      BenchCommand.self,
    ]
  )
}
