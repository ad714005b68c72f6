import HitlCLI

await Hitl.runMain()
