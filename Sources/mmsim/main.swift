// Placeholder until the service lands.
print("mmsim")
