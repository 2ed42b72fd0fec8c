// The `digits` command: a small CNN classifier on the UCI handwritten digits.
import DigitsCore

DigitsCommand.main()
