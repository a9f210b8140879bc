from stormwatch.cli import main

main()
