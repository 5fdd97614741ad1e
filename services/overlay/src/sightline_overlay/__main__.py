from sightline_overlay.app import main

main()
