import DeepLearning
print("placeholder")
