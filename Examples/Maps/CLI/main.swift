// The `maps` command: the satellite→map pipeline of the pix2pix maps dataset.
// All commands live in MapsCore so the tests can run them in-process.
import Foundation
import MapsCore

// Past a file-size limit (`ulimit -f`) the kernel sends SIGXFSZ, which kills the process by
// default; ignored, the write fails with EFBIG instead, and the command stops with a message
// naming the file, its previous checkpoint intact.
signal(SIGXFSZ, SIG_IGN)
MapsCommand.main()
