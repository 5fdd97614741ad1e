from sightline_commerce.app import main

main()
