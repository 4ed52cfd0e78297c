from sigilforge.entry import main

main()
