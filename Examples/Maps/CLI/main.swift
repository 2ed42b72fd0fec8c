// The `maps` command: the satellite→map pipeline of the pix2pix maps dataset.
// All commands live in MapsCore so the tests can run them in-process.
import MapsCore

MapsCommand.main()
