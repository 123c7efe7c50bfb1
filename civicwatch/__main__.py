from civicwatch.cli import main

raise SystemExit(main())
