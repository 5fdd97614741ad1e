from sightline_translation.app import main

main()
