from localobs.cli import main

main()
