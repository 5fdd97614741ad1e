from sightline_vision.app import main

main()
