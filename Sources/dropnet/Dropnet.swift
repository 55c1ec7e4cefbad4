import ArgumentParser
import DropnetModel

@main
struct Dropnet: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dropnet",
    abstract: "Turn labelled movies into an on-device image classifier.",
    discussion: """
      Drop movies into a folder: `thumbs_up.mov` (the label is the file name) or \
      `thumbs_up/clip-2.mov` (the label is the folder name). dropnet extracts frames, \
      drops blurred and near-duplicate ones, fine-tunes MobileNet v1 and publishes a \
      CoreML model.

      By hand: `dropnet extract`, `dropnet train`, `dropnet export`. As a daemon: `dropnet \
      serve --drop DIR --state DIR --output DIR` (systemd/dropnet.service). See README.md.
      """,
    version: DropnetVersion.string,
    subcommands: [
      ExtractCommand.self, TrainCommand.self, WeightsCommand.self, PredictCommand.self,
      ExportCommand.self, ServeCommand.self, StatusCommand.self, RebuildCommand.self,
      ReportCommand.self,
      BenchCommand.self, InfoCommand.self,
    ]
  )
}
