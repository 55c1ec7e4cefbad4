print("dropnet")
