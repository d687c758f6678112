"""Patient texting over Twilio (app label `sms_twilio`). The only package importing `twilio`."""
