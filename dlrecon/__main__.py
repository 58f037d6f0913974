from dlrecon.cli import main

main()
