from sightline_payments.app import main

main()
