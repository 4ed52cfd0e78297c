from sigilforge.cli import main

main()
