module github.com/s3fed/s3fed/bench

go 1.26.8

require (
	github.com/russellhaering/gosaml2 v0.12.0
	github.com/russellhaering/goxmldsig v1.6.1
	github.com/s3fed/s3fed v0.0.0
)

require (
	github.com/beevik/etree v1.8.1 // indirect
	github.com/jonboulle/clockwork v0.5.0 // indirect
	github.com/mattermost/xml-roundtrip-validator v0.1.0 // indirect
)

replace github.com/s3fed/s3fed => ../
