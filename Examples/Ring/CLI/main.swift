// The `ring` command: WGAN with and without the gradient penalty on a ring of 8 Gaussians.
import RingCore

RingCommand.main()
