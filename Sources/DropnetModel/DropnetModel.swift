/// Checkpoints (safetensors) and TensorFlow GraphDef import.
public enum DropnetModel {}
